// The outputs each lease uploaded, so a Finished is checked against what the hub actually received
// (its digests must match) also when the agent replays it after a hub restart. Deleted with the step run.

import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('step_uploads')
    .addColumn('step_run_id', 'integer', (col) =>
      col.notNull().references('step_runs.id').onDelete('cascade'),
    )
    .addColumn('lease_id', 'text', (col) => col.notNull())
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('digest', 'text', (col) => col.notNull())
    .addColumn('size', 'bigint', (col) => col.notNull())
    .addPrimaryKeyConstraint('step_uploads_pk', ['lease_id', 'name'])
    .execute();
  await db.schema.createIndex('step_uploads_step_run').on('step_uploads').column('step_run_id').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('step_uploads').execute();
}
