// step_runs had two indexes that start with `status`: step_runs_status (status) from 0001 and
// step_runs_queued (status, queued_at) from 0018. Every query that searched the first (the hub's
// recovery of assigned and running steps, the containers of running or failed steps) searches the
// second the same way, by its leading column; but each step run's insert and each change of its status
// wrote both (three or four index writes per step). This drops the one-column index.

import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('step_runs_status').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('step_runs_status').on('step_runs').column('status').execute();
}
