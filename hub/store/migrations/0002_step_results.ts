// What a finished step leaves behind for the rest of its build: its output artifacts, or the value a
// load_var step read. Kept with the step run so a resumed build rebuilds its artifacts and vars by replay.

import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('step_runs').addColumn('result', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('step_runs').dropColumn('result').execute();
}
