import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, sql } from 'kysely';
import { afterEach, expect, it } from 'vitest';
import { SQLITE_FILE, openSqliteStore } from '../sqlite.js';
import * as m0008 from './0008_pending_builds_index.js';
import { migrations } from './index.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

// The shape of the scheduler's query, as listBuilds({ pipelineId, statuses: ['pending'], jobKind: 'job' })
// emits it: how SQLite reaches the builds is what the migration is about.
async function pendingBuildsPlan(db: Kysely<unknown>): Promise<string[]> {
  const { rows } = await sql<{ detail: string }>`EXPLAIN QUERY PLAN
    SELECT builds.*, jobs.name FROM builds
    INNER JOIN teams ON teams.id = builds.team_id
    INNER JOIN pipelines ON pipelines.id = builds.pipeline_id
    INNER JOIN jobs ON jobs.id = builds.job_id
    WHERE builds.pipeline_id = ${1} AND jobs.kind = ${'job'} AND builds.status IN (${'pending'})
    ORDER BY builds.id DESC LIMIT ${100_000}`.execute(db);
  return rows.map((r) => r.detail);
}

// A hub upgraded with a long history: the upgrade adds the index, the scheduler's query searches it
// for the pending builds instead of walking every build of the pipeline, and still sees them newest first.
it('0008 lets the pending-builds query of an existing database skip the finished builds, and back', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'outpost-0008-'));
  dirs.push(dataDir);
  const file = join(dataDir, SQLITE_FILE);
  const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new BetterSqlite3(file) }) });
  // Recorded as applied, as a hub of the previous release left it.
  const upgraded = await new Migrator({
    db,
    provider: {
      getMigrations: () =>
        Promise.resolve(Object.fromEntries(Object.entries(migrations).filter(([name]) => name < '0008'))),
    },
  }).migrateToLatest();
  expect(upgraded.error).toBeUndefined();
  await sql`INSERT INTO pipelines (id, team_id, name, config_version, created_at, updated_at)
    VALUES (1, 1, 'p', 1, 0, 0)`.execute(db);
  await sql`INSERT INTO jobs (id, pipeline_id, name, plan, config_order) VALUES (1, 1, 'a', '{}', 0)`.execute(
    db,
  );
  await sql`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500)
    INSERT INTO builds (team_id, pipeline_id, job_id, name, status, plan, created_at)
    SELECT 1, 1, 1, i, CASE WHEN i > 497 THEN 'pending' ELSE 'succeeded' END, '{}', 0 FROM n`.execute(db);
  expect(await pendingBuildsPlan(db)).toContain(
    'SEARCH builds USING INDEX builds_pipeline_id_id (pipeline_id=?)',
  );
  await db.destroy();

  // The hub opening the existing data directory applies the migration.
  const store = await openSqliteStore({ dataDir });
  const pending = await store.listBuilds({
    pipelineId: 1,
    statuses: ['pending'],
    jobKind: 'job',
    limit: 100_000,
  });
  expect(pending.map((b) => b.name)).toEqual(['500', '499', '498']);
  await store.close();

  const after = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new BetterSqlite3(file) }) });
  const plan = await pendingBuildsPlan(after);
  expect(plan).toContain(
    'SEARCH builds USING INDEX builds_pipeline_id_status_id (pipeline_id=? AND status=?)',
  );
  // The index is in id order already: no sort of the rows found.
  expect(plan.filter((d) => d.includes('TEMP B-TREE'))).toEqual([]);
  await m0008.down(after);
  expect(await pendingBuildsPlan(after)).toContain(
    'SEARCH builds USING INDEX builds_pipeline_id_id (pipeline_id=?)',
  );
  await after.destroy();
});
