// One-off builds (`outpost execute`): they run as builds of a hidden job in a hidden pipeline of their
// team (pipelines.kind 'one-off', jobs.kind 'one-off'), so steps, events, logs and retention are the
// same code as for any build. `team_artifacts` records which team uploaded which input archive: a
// one-off build may bind only its own team's uploads, never a digest learnt elsewhere.

import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('pipelines')
    .addColumn('kind', 'text', (col) => col.notNull().defaultTo('pipeline'))
    .execute();
  await db.schema
    .createTable('team_artifacts')
    .addColumn('team_id', 'integer', (col) => col.notNull().references('teams.id').onDelete('cascade'))
    .addColumn('digest', 'text', (col) => col.notNull())
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .addPrimaryKeyConstraint('team_artifacts_pk', ['team_id', 'digest'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('team_artifacts').execute();
  await db.schema.alterTable('pipelines').dropColumn('kind').execute();
}
