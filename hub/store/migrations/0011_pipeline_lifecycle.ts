// What fly's pipeline and build commands need to keep (issue 17):
// - builds.rerun_of: a rerun (`N.1`, `N.2`, ...) points at the build it reruns, whose inputs it reuses;
// - pipelines.archived: archive-pipeline's state (paused, hidden from `pipelines`, undone by set-pipeline);
// - pipelines.ordering: order-pipelines' order; 0 is "never ordered", ordered ones get negative values so
//   that pipelines created later sort after them without renumbering anything;
// - pipelines.parent_job_id: the job whose set_pipeline step set the pipeline (Concourse archives such a
//   child when the step goes away or its parent is archived or destroyed);
// - task_cache_generations: clear-task-cache bumps a job step's generation, and agents keep a task's
//   caches per generation, so the next build starts with empty caches;
// - resource_caches.config_hash: the version history a cached fetch belongs to, so clear-resource-cache
//   finds a resource's caches (rows cached before have none and expire with the cache's TTL).

import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('builds')
    .addColumn('rerun_of', 'integer', (col) => col.references('builds.id').onDelete('set null'))
    .execute();
  await db.schema
    .alterTable('pipelines')
    .addColumn('archived', 'integer', (col) => col.notNull().defaultTo(0))
    .execute();
  await db.schema
    .alterTable('pipelines')
    .addColumn('ordering', 'integer', (col) => col.notNull().defaultTo(0))
    .execute();
  await db.schema
    .alterTable('pipelines')
    .addColumn('parent_job_id', 'integer', (col) => col.references('jobs.id').onDelete('set null'))
    .execute();
  await db.schema.alterTable('resource_caches').addColumn('config_hash', 'text').execute();
  await db.schema
    .createTable('task_cache_generations')
    .addColumn('job_id', 'integer', (col) => col.notNull().references('jobs.id').onDelete('cascade'))
    .addColumn('step_name', 'text', (col) => col.notNull())
    .addColumn('generation', 'integer', (col) => col.notNull())
    .addPrimaryKeyConstraint('task_cache_generations_pk', ['job_id', 'step_name'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('task_cache_generations').execute();
  await db.schema.alterTable('resource_caches').dropColumn('config_hash').execute();
  await db.schema.alterTable('pipelines').dropColumn('parent_job_id').execute();
  await db.schema.alterTable('pipelines').dropColumn('ordering').execute();
  await db.schema.alterTable('pipelines').dropColumn('archived').execute();
  await db.schema.alterTable('builds').dropColumn('rerun_of').execute();
}
