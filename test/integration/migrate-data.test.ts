// `outpost-hub migrate-data`: a hub's SQLite database copied into an empty PostgreSQL one, as an
// operator moves a hub to replicas. A populated SQLite hub (a pipeline, builds with logs, resource
// versions, a user in a second team, API and agent tokens) is stopped and copied; a hub on PostgreSQL then
// answers the same, lets the same tokens and passwords in, and runs a new build. The command refuses a
// running hub's data directory and a target that holds data.

import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { ApiTokenSummary, LoginResponse } from '../../hub/api/types.js';
import { cleanupAfterEach } from '../support/cleanups.js';
import {
  finalStatus,
  logText,
  readBuildEvents,
  restartTestHub,
  setPipeline,
  startTestAgent,
  startTestHub,
  triggerJob,
  type TestHub,
} from '../support/harness.js';
import { postgresSkip, testPostgresOnce } from '../support/store-backends.js';

const unavailable = postgresSkip('migrate-data into PostgreSQL');
const defer = cleanupAfterEach();

const run = promisify(execFile);
const migrateData = (dataDir: string, url: string) =>
  run(process.execPath, [
    '--import',
    'tsx',
    'hub/main.ts',
    'migrate-data',
    '--data-dir',
    dataDir,
    '--database',
    url,
  ]).then(
    ({ stdout }) => ({ code: 0, stdout, stderr: '' }),
    (err: unknown) => err as { code: number; stdout: string; stderr: string },
  );

const PIPELINE = `resources:
- name: ver
  type: mock
  check_every: never
  source: {initial_version: v1}
jobs:
- name: job
  plan:
  - get: ver
  - task: run
    config:
      platform: linux
      run: {path: sh, args: ['-c', 'for i in 1 2 3; do echo line $i; done']}
`;

/** What a user sees of the hub's records, read through the API. */
async function records(hub: TestHub, buildIds: number[]) {
  const get = async (route: string) => {
    const res = await hub.api('GET', route);
    expect(res.status, route).toBe(200);
    return res.body;
  };
  const log = async (id: number) =>
    (
      await fetch(`${hub.url}/api/v1/builds/${id}/log`, {
        headers: { authorization: `Bearer ${hub.adminToken}` },
      })
    ).text();
  // A token's last use moves with every call (at a minute's resolution): not a record of its own.
  const withoutUse = (tokens: unknown) =>
    (tokens as ApiTokenSummary[]).map(({ lastUsedAt: _, ...token }) => token);
  return {
    teams: await get('/teams'),
    users: await get('/users'),
    pipelines: await get('/pipelines'),
    builds: await get('/teams/main/pipelines/p/jobs/job/builds'),
    logs: await Promise.all(buildIds.map(log)),
    versions: await get('/teams/main/pipelines/p/resources/ver/versions'),
    apiTokens: withoutUse(await get('/teams/other/api-tokens')),
    agentTokens: withoutUse(await get('/agent-tokens')),
  };
}

describe.skipIf(unavailable !== undefined)('migrate-data from SQLite into PostgreSQL', () => {
  const server = testPostgresOnce();

  it('copies every record; a hub on PostgreSQL serves them and runs on; a used target is refused', async () => {
    const url = await (await server()).createDatabase('copied');
    const sqliteHub = await startTestHub();
    // Each hub is stopped (its data directory kept, for the next step) by the test, or here on a failure.
    const running = new Set<TestHub>([sqliteHub]);
    const stop = async (hub: TestHub) => {
      if (running.delete(hub)) await hub.stop();
    };
    defer(async () => {
      for (const hub of running) await stop(hub);
      await rm(sqliteHub.dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
    });
    const agent = await startTestAgent(sqliteHub);
    defer(() => agent.stop());
    await agent.welcomed;

    await setPipeline(sqliteHub, 'p', PIPELINE);
    const check = await sqliteHub.api<{ id: number }>(
      'POST',
      '/teams/main/pipelines/p/resources/ver/check',
      {},
    );
    expect(finalStatus(await readBuildEvents(sqliteHub, check.body.id))).toBe('succeeded');
    const built: number[] = [];
    for (let i = 0; i < 2; i++) {
      const id = await triggerJob(sqliteHub, 'p', 'job');
      expect(finalStatus(await readBuildEvents(sqliteHub, id))).toBe('succeeded');
      built.push(id);
    }
    expect((await sqliteHub.api('PUT', '/users/ann', { password: 'correct horse battery' })).status).toBe(
      201,
    );
    const team = await sqliteHub.api('PUT', '/teams/other', { members: [{ user: 'ann', role: 'member' }] });
    expect(team.status, JSON.stringify(team.body)).toBe(201);
    const teamToken = await sqliteHub.api<{ token: string }>('POST', '/teams/other/api-tokens', {
      name: 'ci',
      role: 'viewer',
      expiresIn: 86_400,
    });
    expect(teamToken.status, JSON.stringify(teamToken.body)).toBe(201);
    const before = await records(sqliteHub, built);
    const builds = (await sqliteHub.store.listBuilds({ limit: 1000 })).length;

    // The hub still runs on its data directory: its lock refuses the copy.
    const locked = await migrateData(sqliteHub.dir, url);
    expect(locked.code).toBe(1);
    expect(locked.stderr).toContain('is locked by the hub');

    await agent.stop();
    await stop(sqliteHub);
    const copied = await migrateData(sqliteHub.dir, url);
    expect(copied.stderr).toBe('');
    expect(copied.stdout).toContain(`from ${sqliteHub.dir}/outpost.db to postgres`);
    expect(copied.stdout).toMatch(/^copied \d+ rows in \d+ tables /);
    // Every build: the job's two, the check, and the checks before each manual build's get.
    expect(copied.stdout).toContain(`  builds: ${builds}\n`);

    // The same hub (its data directory, ports and admin token) on PostgreSQL.
    const pgHub = await restartTestHub({ ...sqliteHub, options: { ...sqliteHub.options, databaseUrl: url } });
    running.add(pgHub);
    expect(await records(pgHub, built)).toEqual(before);
    const login = await pgHub.api<LoginResponse>('POST', '/auth/token', {
      username: 'ann',
      password: 'correct horse battery',
      team: 'other',
    });
    expect(login.status).toBe(200);
    const asTeam = await fetch(`${pgHub.url}/api/v1/teams/other`, {
      headers: { authorization: `Bearer ${teamToken.body.token}` },
    });
    expect(asTeam.status).toBe(200);

    // New records get new ids: the next build is #3 of the job, after every copied build.
    const again = await startTestAgent(pgHub);
    await again.welcomed;
    const next = await triggerJob(pgHub, 'p', 'job');
    const events = await readBuildEvents(pgHub, next);
    expect(finalStatus(events)).toBe('succeeded');
    // Its get finds the version's cache the SQLite hub recorded (the copied resource_caches).
    expect(logText(events)).toBe('INFO: found existing resource cache\nline 1\nline 2\nline 3\n');
    expect(next).toBeGreaterThan(Math.max(...built, check.body.id));
    expect((await pgHub.api<{ name: string }>('GET', `/builds/${next}`)).body.name).toBe('3');

    // A second copy into the used database is refused, naming what is there, and changes nothing.
    await again.stop();
    const buildsNow = (await pgHub.store.listBuilds({ limit: 1000 })).length;
    await stop(pgHub);
    const refused = await migrateData(sqliteHub.dir, url);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('the target database is not empty: ');
    expect(refused.stderr).toContain(`builds (${buildsNow} rows)`);
  }, 180_000);
});
