// Build retention and artifact garbage collection: each job may keep only so many builds, and an
// artifact lives as long as some build that produced it.

import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('jobs').addColumn('retention', 'text').execute();
  await db.schema
    .createTable('build_artifacts')
    .addColumn('build_id', 'integer', (col) => col.notNull().references('builds.id').onDelete('cascade'))
    .addColumn('digest', 'text', (col) => col.notNull())
    .addPrimaryKeyConstraint('build_artifacts_pk', ['build_id', 'digest'])
    .execute();
  await db.schema.createIndex('build_artifacts_digest').on('build_artifacts').column('digest').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('build_artifacts').execute();
  await db.schema.alterTable('jobs').dropColumn('retention').execute();
}
