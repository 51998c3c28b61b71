// Instanced pipelines (issue 17): pipelines of one name that differ by their instance vars. A pipeline's
// identity within its team is (name, instance vars). SQLite cannot drop the (team_id, name) unique
// constraint of 0001 without rebuilding `pipelines`, whose rebuild would cascade-delete everything
// pointing at it; so `pipelines.name` holds the identity key (hub/pipeline/instance-vars.ts pipelineKey):
// the name, or for an instance `name/` and the canonical JSON of its instance vars (sorted keys), and
// that constraint keeps (team, name, instance vars) unique on both dialects. `instance_vars` keeps the
// same canonical JSON on its own (null without instance vars), so rows read back without parsing names.
// Every existing row is a pipeline without instance vars: its name and key are the same.

import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('pipelines').addColumn('instance_vars', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('pipelines').dropColumn('instance_vars').execute();
}
