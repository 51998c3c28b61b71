import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { expect, it } from 'vitest';
import * as m0001 from './0001_initial.js';
import * as m0002 from './0002_step_results.js';
import * as m0003 from './0003_retention.js';
import * as m0004 from './0004_resources.js';
import * as m0005 from './0005_build_log_bytes.js';
import * as m0006 from './0006_agent_identity.js';

// A hub upgraded with steps in flight: the agent row and the step runs naming it move to CLUSTER/NAME
// together, so the agent reconnecting under its new identity still owns its steps.
it('0006 gives existing agents and their step runs the CLUSTER/NAME identity, and back', async () => {
  const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new BetterSqlite3(':memory:') }) });
  for (const m of [m0001, m0002, m0003, m0004, m0005]) await m.up(db);
  // Step runs without their build: only the agent columns matter here.
  await sql`PRAGMA foreign_keys = OFF`.execute(db);
  await sql`INSERT INTO agents (name, cluster, version, pools, state) VALUES
    ('outpost-agent-0', 'eu-1', '0.1.0', '[]', 'connected'),
    ('mac-mini-1', 'office', '0.1.0', '[]', 'disconnected')`.execute(db);
  await sql`INSERT INTO step_runs (build_id, plan_id, name, status, spec, agent_name, created_at) VALUES
    (1, 'a', 'a', 'running', '{}', 'outpost-agent-0', 1),
    (1, 'b', 'b', 'succeeded', '{}', 'mac-mini-1', 1),
    (1, 'c', 'c', 'pending', '{}', NULL, 1),
    (1, 'd', 'd', 'errored', '{}', 'gone-agent', 1)`.execute(db);
  const agents = async () =>
    (await sql<{ name: string }>`SELECT name FROM agents ORDER BY name`.execute(db)).rows.map((r) => r.name);
  const runs = async () =>
    (
      await sql<{ agent_name: string | null }>`SELECT agent_name FROM step_runs ORDER BY plan_id`.execute(db)
    ).rows.map((r) => r.agent_name);

  await m0006.up(db);
  expect(await agents()).toEqual(['eu-1/outpost-agent-0', 'office/mac-mini-1']);
  // An agent the hub no longer lists has no cluster to add: its old runs keep the name they had.
  expect(await runs()).toEqual(['eu-1/outpost-agent-0', 'office/mac-mini-1', null, 'gone-agent']);
  await m0006.up(db);
  expect(await agents()).toEqual(['eu-1/outpost-agent-0', 'office/mac-mini-1']);

  await m0006.down(db);
  expect(await agents()).toEqual(['mac-mini-1', 'outpost-agent-0']);
  expect(await runs()).toEqual(['outpost-agent-0', 'mac-mini-1', null, 'gone-agent']);
  await db.destroy();
});
