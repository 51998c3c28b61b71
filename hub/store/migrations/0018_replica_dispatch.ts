// Dispatch shared by hub replicas on one PostgreSQL (hub/dispatch/shared-queue.ts): a pending step run
// waiting for an agent is marked queued (any replica with a fitting agent claims it), the replica that
// holds a lease is recorded (fencing: a replica that lost the lease to another cannot end it), and an
// abort asked of a step whose lease another replica holds waits in the row for that replica.

import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('step_runs').addColumn('queued_at', 'bigint').execute();
  await db.schema.alterTable('step_runs').addColumn('prefer_agent', 'text').execute();
  await db.schema.alterTable('step_runs').addColumn('holder', 'text').execute();
  await db.schema.alterTable('step_runs').addColumn('abort_ending', 'text').execute();
  await db.schema.createIndex('step_runs_queued').on('step_runs').columns(['status', 'queued_at']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('step_runs_queued').execute();
  for (const column of ['abort_ending', 'holder', 'prefer_agent', 'queued_at'])
    await db.schema.alterTable('step_runs').dropColumn(column).execute();
}
