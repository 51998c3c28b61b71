// The scheduler asks, on every pass, for a pipeline's pending builds, newest first
// (`listBuilds({ pipelineId, statuses: ['pending'] })`). Through builds_pipeline_id_id SQLite walked
// every build the pipeline ever had to find the few pending ones, so the pass slowed as history grew;
// this index goes straight to them, already in id order. The status is a bound parameter in that query,
// so a partial index (WHERE status = 'pending') would not be chosen.

import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createIndex('builds_pipeline_id_status_id')
    .on('builds')
    .columns(['pipeline_id', 'status', 'id'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('builds_pipeline_id_status_id').execute();
}
