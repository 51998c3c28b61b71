// The hub on PostgreSQL, as an operator runs it: `outpost-hub migrate` (dry run, then apply) on an empty
// database, then a hub on that database running a build with an agent, over real gRPC and HTTP, and the
// same builds after a hub restart on another data directory (the database holds everything).

import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Kysely } from 'kysely';
import { readAdminToken } from '../../hub/auth/admin-token.js';
import { migrations, pendingMigrations } from '../../hub/store/migrations/index.js';
import { openDatabase } from '../../hub/store/open.js';
import {
  finalStatus,
  logText,
  readBuildEvents,
  setPipeline,
  shellPipeline,
  startTestAgent,
  startTestHub,
  triggerJob,
  type TestHub,
} from '../support/harness.js';
import { guardPgSerialQueries } from '../support/pg-serial-guard.js';
import { postgresSkip, testPostgresOnce } from '../support/store-backends.js';

const unavailable = postgresSkip('the hub on PostgreSQL');

const run = promisify(execFile);
const hubCli = (args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, ['--import', 'tsx', 'hub/main.ts', ...args], { env: { ...process.env, ...env } });

describe.skipIf(unavailable !== undefined)('a hub on PostgreSQL', () => {
  const server = testPostgresOnce();
  let url: string;
  let hub: TestHub | undefined;

  beforeAll(async () => {
    url = await (await server()).createDatabase('hub');
  });
  afterAll(async () => {
    await hub?.close();
  });

  it('migrate --dry-run lists every pending migration, migrate applies them once', async () => {
    const all = Object.keys(migrations);
    const dry = await hubCli(['migrate', '--database', url, '--dry-run']);
    expect(dry.stdout).toContain(
      `${all.length} migration(s) pending:\n${all.map((n) => `  ${n}\n`).join('')}`,
    );
    const applied = await hubCli(['migrate', '--database', url]);
    expect(applied.stdout).toContain(`${all.length} migration(s) applied:`);
    // And a hub starting on it finds nothing left to do.
    const db = await openDatabase({ databaseUrl: url });
    expect(await pendingMigrations(db as unknown as Kysely<unknown>)).toEqual([]);
    await db.destroy();
  }, 60_000); // two hub processes through tsx, seconds each on a loaded machine

  it('refuses a database URL that is not PostgreSQL, naming it without its password', async () => {
    // From the environment, as the chart passes it.
    const failed = await hubCli(['migrate'], { OUTPOST_DATABASE_URL: 'mysql://u:secret@db/x' }).then(
      () => undefined,
      (err: unknown) => err as { code: number; stderr: string },
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toContain('mysql://u:***@db/x is not a PostgreSQL URL');
    expect(failed?.stderr).not.toContain('secret');
  });

  it('creates a --data-dir that does not exist yet (mode 0700) and writes the admin token there', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'outpost-pg-datadir-'));
    const dataDir = path.join(root, 'not', 'there');
    const fresh = await startTestHub({
      databaseUrl: await (await server()).createDatabase('fresh'),
      dataDir,
    });
    try {
      expect((await stat(dataDir)).mode & 0o777).toBe(0o700);
      expect(await readAdminToken(dataDir)).toBe(fresh.adminToken);
    } finally {
      await fresh.close();
      await rm(root, { recursive: true, force: true });
    }
  });

  it("records an agent's replica URL around --replica-host, an IPv6 address in brackets", async () => {
    const replica = await startTestHub({
      databaseUrl: await (await server()).createDatabase('ipv6_host'),
      replicaHost: '::1',
    });
    const agent = await startTestAgent(replica, { name: 'v6' });
    try {
      await agent.welcomed;
      const port = new URL(replica.url).port;
      expect((await replica.store.getAgent('test/v6'))?.replicaUrl).toBe(`http://[::1]:${port}`);
    } finally {
      await agent.stop();
      await replica.close();
    }
  });

  it('runs a build end to end, and keeps it across a restart on another data directory', async () => {
    // No pg client (pool, hint connection, leader lock) is ever given a query while it runs one.
    const violations = guardPgSerialQueries();
    hub = await startTestHub({ databaseUrl: url });
    const agent = await startTestAgent(hub);
    try {
      await agent.welcomed;
      await setPipeline(hub, 'pg', shellPipeline('for i in 1 2 3; do echo line $i; done'));
      const buildId = await triggerJob(hub, 'pg', 'job');
      const events = await readBuildEvents(hub, buildId);
      expect(logText(events)).toBe('line 1\nline 2\nline 3\n');
      expect(finalStatus(events)).toBe('succeeded');
    } finally {
      await agent.stop();
    }
    const token = hub.adminToken;
    await hub.close();
    // A new hub (new data directory) on the same database: the admin token, pipeline and build are there.
    const again = await startTestHub({ databaseUrl: url });
    hub = again;
    const res = await fetch(`${again.url}/api/v1/teams/main/pipelines/pg/jobs/job/builds`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { name: string; status: string }[]).map((b) => [b.name, b.status])).toEqual(
      [['1', 'succeeded']],
    );
    expect(violations).toEqual([]);
  });
});
