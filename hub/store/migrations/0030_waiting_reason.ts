// step_runs.waiting_reason: why a queued step waits for an agent (no pool with its tags, every pool
// full, ...), as the replica with agents that last looked found it. Kept in the row rather than in that
// replica's memory, so every replica's /queue and build waiting reason say the same at once.

import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('step_runs').addColumn('waiting_reason', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('step_runs').dropColumn('waiting_reason').execute();
}
