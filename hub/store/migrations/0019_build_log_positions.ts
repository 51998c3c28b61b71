// Where each step's log stands after each log event (hub/log-text/log-position.ts), kept as events are
// appended, so that showing the end of a long log never reads the text before it: build_log_positions
// holds one small row per log event (read instead of the events' text to index a build's log),
// build_log_steps where each step's log stands now (advanced by the next append). Builds that exist
// before this migration have no positions: build_log_unindexed lists them, and their logs are indexed
// by reading their events, as before.

import type { Kysely } from 'kysely';

interface Db {
  builds: { id: number };
  build_log_unindexed: { build_id: number };
}

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('build_log_positions')
    .addColumn('build_id', 'integer', (col) => col.notNull().references('builds.id').onDelete('cascade'))
    .addColumn('seq', 'integer', (col) => col.notNull())
    .addColumn('step', 'text', (col) => col.notNull())
    .addColumn('line', 'integer', (col) => col.notNull())
    .addColumn('partial', 'integer', (col) => col.notNull())
    .addColumn('sgr', 'text', (col) => col.notNull())
    .addPrimaryKeyConstraint('build_log_positions_pk', ['build_id', 'seq'])
    .execute();
  await db.schema
    .createTable('build_log_steps')
    .addColumn('build_id', 'integer', (col) => col.notNull().references('builds.id').onDelete('cascade'))
    .addColumn('step', 'text', (col) => col.notNull())
    .addColumn('line', 'integer', (col) => col.notNull())
    .addColumn('partial', 'integer', (col) => col.notNull())
    .addColumn('sgr', 'text', (col) => col.notNull())
    .addColumn('unfinished', 'text', (col) => col.notNull())
    .addPrimaryKeyConstraint('build_log_steps_pk', ['build_id', 'step'])
    .execute();
  await db.schema
    .createTable('build_log_unindexed')
    .addColumn('build_id', 'integer', (col) => col.primaryKey().references('builds.id').onDelete('cascade'))
    .execute();
  // Typed against this migration's own tables, not schema.ts, which moves on with later migrations.
  const typed = db as unknown as Kysely<Db>;
  await typed
    .insertInto('build_log_unindexed')
    .columns(['build_id'])
    .expression(typed.selectFrom('builds').select('id'))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['build_log_unindexed', 'build_log_steps', 'build_log_positions'])
    await db.schema.dropTable(table).execute();
}
