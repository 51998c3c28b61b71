// A database as an earlier hub left it, for tests of a migration: migrated up to (not including) a
// migration, with rows written in that schema's terms.

import { sql, type Kysely } from 'kysely';
import { migrations, migrator } from '../../hub/store/migrations/index.js';

/** Applies the migrations named before `name` (e.g. '0026'), on SQLite or PostgreSQL; throws on failure. */
export async function migrateBefore(db: Kysely<unknown>, name: string): Promise<void> {
  const before = Object.fromEntries(Object.entries(migrations).filter(([m]) => m < name));
  const { error } = await migrator(db, before).migrateToLatest();
  if (error !== undefined) throw error instanceof Error ? error : new Error(JSON.stringify(error));
}

/** Team 1 (main), pipeline 1 with job 1, and build 1 of that job in `status`. */
export async function insertBuildRows(db: Kysely<unknown>, status: string): Promise<void> {
  await sql`INSERT OR IGNORE INTO teams (id, name) VALUES (1, 'main')`.execute(db);
  await sql`INSERT INTO pipelines (id, team_id, name, config_version, created_at, updated_at)
    VALUES (1, 1, 'p', 1, 0, 0)`.execute(db);
  await sql`INSERT INTO jobs (id, pipeline_id, name, plan, config_order) VALUES (1, 1, 'j', '{}', 0)`.execute(
    db,
  );
  await sql`INSERT INTO builds (id, team_id, pipeline_id, job_id, name, status, plan, created_at)
    VALUES (1, 1, 1, 1, '1', ${status}, '{}', 0)`.execute(db);
}
