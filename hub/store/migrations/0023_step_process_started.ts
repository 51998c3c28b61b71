// step_runs.started_lease_id: the lease under which the agent last said the step's process started (its
// Started). The hub emits a step's start event when this first takes a lease's id, so an agent may send
// Started again after a reconnect (it cannot know whether the hub read the first one) without a second
// start event; a re-queued step, under a new lease, starts anew.

import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('step_runs').addColumn('started_lease_id', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('step_runs').dropColumn('started_lease_id').execute();
}
