// build_events.payload: a log chunk's payload as the bytes the agent sent (UTF-8), stored beside the
// event's data rather than as a string inside its JSON. The hub then stores a chunk without decoding,
// escaping and re-encoding it, counts its lines on the bytes, and frames SSE from them. Events stored
// before this migration keep their payload inside `data` (and NULL here), and are read as they are
// (hub/store/rows.ts): nothing is rewritten, so a hub with years of logs migrates at once.

import { PostgresAdapter, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  // BLOB on SQLite, bytea on PostgreSQL: the same bytes in and out (a Buffer) on both drivers.
  const type = db.getExecutor().adapter instanceof PostgresAdapter ? 'bytea' : 'blob';
  await db.schema.alterTable('build_events').addColumn('payload', type).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('build_events').dropColumn('payload').execute();
}
