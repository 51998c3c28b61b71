// Resources: version histories (per pipeline, resource or resource type, and source config), what each
// build used and produced, the resource cache, and the scheduler's bookkeeping on jobs and builds.
// Checks run as builds of hidden jobs of kind "check", so they reuse steps, logs and retention.

import type { ColumnDefinitionBuilder, Kysely } from 'kysely';

function id(col: ColumnDefinitionBuilder): ColumnDefinitionBuilder {
  return col.primaryKey().autoIncrement();
}

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('jobs')
    .addColumn('kind', 'text', (col) => col.notNull().defaultTo('job'))
    .execute();
  // JSON of the job's JobSchedule (serial groups, max_in_flight); null: no limits.
  await db.schema.alterTable('jobs').addColumn('schedule', 'text').execute();
  await db.schema
    .alterTable('builds')
    .addColumn('manual', 'integer', (col) => col.notNull().defaultTo(0))
    .execute();
  await db.schema.alterTable('builds').addColumn('pending_reason', 'text').execute();
  // The check build's request: JSON of { from?: version } (check-resource -f), null otherwise.
  await db.schema.alterTable('builds').addColumn('check_request', 'text').execute();

  await db.schema
    .createTable('resource_versions')
    .addColumn('id', 'integer', id)
    .addColumn('pipeline_id', 'integer', (col) =>
      col.notNull().references('pipelines.id').onDelete('cascade'),
    )
    .addColumn('scope', 'text', (col) => col.notNull())
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('config_hash', 'text', (col) => col.notNull())
    .addColumn('version', 'text', (col) => col.notNull())
    .addColumn('metadata', 'text', (col) => col.notNull())
    .addColumn('check_order', 'integer', (col) => col.notNull())
    .addColumn('disabled', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .addUniqueConstraint('resource_versions_unique', [
      'pipeline_id',
      'scope',
      'name',
      'config_hash',
      'version',
    ])
    .execute();

  await db.schema
    .createTable('resource_states')
    .addColumn('pipeline_id', 'integer', (col) =>
      col.notNull().references('pipelines.id').onDelete('cascade'),
    )
    .addColumn('scope', 'text', (col) => col.notNull())
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('config_hash', 'text', (col) => col.notNull())
    .addColumn('check_status', 'text')
    .addColumn('check_error', 'text')
    .addColumn('last_check_started_at', 'bigint')
    .addColumn('last_check_ended_at', 'bigint')
    .addColumn('pinned_version', 'text')
    .addColumn('pin_comment', 'text')
    .addPrimaryKeyConstraint('resource_states_pk', ['pipeline_id', 'scope', 'name'])
    .execute();

  await db.schema
    .createTable('build_resources')
    .addColumn('build_id', 'integer', (col) => col.notNull().references('builds.id').onDelete('cascade'))
    .addColumn('direction', 'text', (col) => col.notNull())
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('resource', 'text', (col) => col.notNull())
    .addColumn('version_id', 'integer', (col) =>
      col.notNull().references('resource_versions.id').onDelete('cascade'),
    )
    .addPrimaryKeyConstraint('build_resources_pk', ['build_id', 'direction', 'name'])
    .execute();
  await db.schema
    .createIndex('build_resources_version')
    .on('build_resources')
    .columns(['resource', 'version_id'])
    .execute();

  await db.schema
    .createTable('resource_caches')
    .addColumn('key', 'text', (col) => col.primaryKey())
    .addColumn('digest', 'text', (col) => col.notNull())
    .addColumn('size', 'bigint', (col) => col.notNull())
    .addColumn('version', 'text', (col) => col.notNull())
    .addColumn('metadata', 'text', (col) => col.notNull())
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['resource_caches', 'build_resources', 'resource_states', 'resource_versions'])
    await db.schema.dropTable(table).execute();
  for (const column of ['check_request', 'pending_reason', 'manual'])
    await db.schema.alterTable('builds').dropColumn(column).execute();
  for (const column of ['schedule', 'kind']) await db.schema.alterTable('jobs').dropColumn(column).execute();
}
