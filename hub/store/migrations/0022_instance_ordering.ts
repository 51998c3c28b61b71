// pipelines.instance_ordering: fly's order-instanced-pipelines, the order of the instances within their
// group (Concourse's secondary_ordering). As `ordering`: 0 is "never ordered", ordered instances get
// negative values so they come first, in the order given, and the others follow by id.

import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('pipelines')
    .addColumn('instance_ordering', 'integer', (col) => col.notNull().defaultTo(0))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('pipelines').dropColumn('instance_ordering').execute();
}
