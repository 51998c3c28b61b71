// The initial schema. Written with Kysely's schema builder in types both SQLite and PostgreSQL accept:
// integer ids, bigint Unix-millisecond timestamps, integer 0/1 booleans and JSON as text.
// Frozen once released: later changes go in new migrations.

import { sql } from 'kysely';
import type { ColumnDefinitionBuilder, Generated, Kysely } from 'kysely';

// SQLite: INTEGER PRIMARY KEY AUTOINCREMENT (ids are never reused); PostgreSQL: an identity column
// (the migrator's IdentityColumnsPlugin, see index.ts).
function id(col: ColumnDefinitionBuilder): ColumnDefinitionBuilder {
  return col.primaryKey().autoIncrement();
}

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('teams')
    .addColumn('id', 'integer', id)
    .addColumn('name', 'text', (col) => col.notNull().unique())
    .execute();

  await db.schema
    .createTable('tokens')
    .addColumn('id', 'integer', id)
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('hash', 'text', (col) => col.notNull().unique())
    .addColumn('team_id', 'integer', (col) => col.references('teams.id').onDelete('cascade'))
    .addColumn('kind', 'text', (col) => col.notNull())
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .addColumn('revoked_at', 'bigint')
    .addColumn('last_used_at', 'bigint')
    .execute();

  await db.schema
    .createTable('pipelines')
    .addColumn('id', 'integer', id)
    .addColumn('team_id', 'integer', (col) => col.notNull().references('teams.id').onDelete('cascade'))
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('paused', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('config_version', 'integer', (col) => col.notNull())
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .addColumn('updated_at', 'bigint', (col) => col.notNull())
    .addUniqueConstraint('pipelines_team_id_name_unique', ['team_id', 'name'])
    .execute();

  await db.schema
    .createTable('pipeline_configs')
    .addColumn('pipeline_id', 'integer', (col) =>
      col.notNull().references('pipelines.id').onDelete('cascade'),
    )
    .addColumn('version', 'integer', (col) => col.notNull())
    .addColumn('source', 'text', (col) => col.notNull())
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .addPrimaryKeyConstraint('pipeline_configs_pk', ['pipeline_id', 'version'])
    .execute();

  await db.schema
    .createTable('jobs')
    .addColumn('id', 'integer', id)
    .addColumn('pipeline_id', 'integer', (col) =>
      col.notNull().references('pipelines.id').onDelete('cascade'),
    )
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('plan', 'text', (col) => col.notNull())
    .addColumn('active', 'integer', (col) => col.notNull().defaultTo(1))
    .addColumn('paused', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('next_build_number', 'integer', (col) => col.notNull().defaultTo(1))
    .addColumn('config_order', 'integer', (col) => col.notNull())
    // Also the target of savePipeline's upsert (ON CONFLICT (pipeline_id, name)).
    .addUniqueConstraint('jobs_pipeline_id_name_unique', ['pipeline_id', 'name'])
    .execute();

  await db.schema
    .createTable('builds')
    .addColumn('id', 'integer', id)
    .addColumn('team_id', 'integer', (col) => col.notNull().references('teams.id').onDelete('cascade'))
    .addColumn('pipeline_id', 'integer', (col) =>
      col.notNull().references('pipelines.id').onDelete('cascade'),
    )
    .addColumn('job_id', 'integer', (col) => col.notNull().references('jobs.id').onDelete('cascade'))
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('plan', 'text', (col) => col.notNull())
    .addColumn('abort_requested', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .addColumn('started_at', 'bigint')
    .addColumn('ended_at', 'bigint')
    .execute();
  await db.schema
    .createIndex('builds_job_id_name_unique')
    .unique()
    .on('builds')
    .columns(['job_id', 'name'])
    .execute();
  // listBuilds pages newest first (id desc) within a team, pipeline or job.
  await db.schema.createIndex('builds_team_id_id').on('builds').columns(['team_id', 'id']).execute();
  await db.schema.createIndex('builds_pipeline_id_id').on('builds').columns(['pipeline_id', 'id']).execute();
  await db.schema.createIndex('builds_job_id_id').on('builds').columns(['job_id', 'id']).execute();
  await db.schema.createIndex('builds_status').on('builds').column('status').execute();

  await db.schema
    .createTable('step_runs')
    .addColumn('id', 'integer', id)
    .addColumn('build_id', 'integer', (col) => col.notNull().references('builds.id').onDelete('cascade'))
    .addColumn('plan_id', 'text', (col) => col.notNull())
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('spec', 'text', (col) => col.notNull())
    .addColumn('lease_id', 'text')
    .addColumn('agent_name', 'text')
    .addColumn('pool', 'text')
    .addColumn('log_seq', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('exit_status', 'integer')
    .addColumn('error', 'text')
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .addColumn('started_at', 'bigint')
    .addColumn('ended_at', 'bigint')
    .execute();
  // A lease belongs to at most one step run; pending runs have none (partial index, both dialects).
  await db.schema
    .createIndex('step_runs_lease_id_unique')
    .unique()
    .on('step_runs')
    .column('lease_id')
    .where(sql.ref('lease_id'), 'is not', null)
    .execute();
  await db.schema.createIndex('step_runs_status').on('step_runs').column('status').execute();
  await db.schema.createIndex('step_runs_build_id').on('step_runs').column('build_id').execute();

  // The primary key is the (build_id, seq) index that seq allocation and paging use.
  await db.schema
    .createTable('build_events')
    .addColumn('build_id', 'integer', (col) => col.notNull().references('builds.id').onDelete('cascade'))
    .addColumn('seq', 'integer', (col) => col.notNull())
    .addColumn('type', 'text', (col) => col.notNull())
    .addColumn('version', 'text', (col) => col.notNull())
    .addColumn('data', 'text', (col) => col.notNull())
    .addColumn('at', 'bigint', (col) => col.notNull())
    .addPrimaryKeyConstraint('build_events_pk', ['build_id', 'seq'])
    .execute();

  await db.schema
    .createTable('agents')
    .addColumn('name', 'text', (col) => col.primaryKey())
    .addColumn('cluster', 'text', (col) => col.notNull())
    .addColumn('version', 'text', (col) => col.notNull())
    .addColumn('pools', 'text', (col) => col.notNull())
    .addColumn('state', 'text', (col) => col.notNull())
    .addColumn('token_id', 'integer', (col) => col.references('tokens.id').onDelete('set null'))
    .addColumn('connected_at', 'bigint')
    .addColumn('last_heartbeat_at', 'bigint')
    .execute();

  // Typed against this migration's own tables, not schema.ts, which moves on with later migrations.
  await db
    .withTables<{ teams: { id: Generated<number>; name: string } }>()
    .insertInto('teams')
    .values({ name: 'main' })
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [
    'agents',
    'build_events',
    'step_runs',
    'builds',
    'jobs',
    'pipeline_configs',
    'pipelines',
    'tokens',
    'teams',
  ]) {
    await db.schema.dropTable(table).execute();
  }
}
