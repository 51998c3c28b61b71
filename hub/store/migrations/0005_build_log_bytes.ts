// The per-build log cap: how many log bytes each build has stored, and whether its log was cut off.
// Kept on the build row so the cap survives a hub restart and the check costs no extra query.

import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('builds')
    .addColumn('log_bytes', 'bigint', (col) => col.notNull().defaultTo(0))
    .execute();
  await db.schema
    .alterTable('builds')
    .addColumn('log_truncated', 'integer', (col) => col.notNull().defaultTo(0))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('builds').dropColumn('log_truncated').execute();
  await db.schema.alterTable('builds').dropColumn('log_bytes').execute();
}
