// Issue #14 item 4 (the admin token's part, from issue #11 item 6): the first admin token is written to a
// 0600 file, never printed, and `outpost-hub rotate-admin-token` replaces it; a running hub's lock makes
// rotation refuse rather than race it.

import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN_FILE, readAdminToken } from '../../hub/auth/admin-token.js';
import { callApi, spawnChildHub, killChildHub } from '../support/child-hub.js';
import { postgresSkip, testPostgresOnce } from '../support/store-backends.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** `outpost-hub rotate-admin-token --data-dir DIR [ARGS]` as a process. */
function rotate(
  dataDir: string,
  args: string[] = [],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'hub/main.ts', 'rotate-admin-token', '--data-dir', dataDir, ...args],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

it('rotates the admin token with the hub stopped, and refuses while it runs', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-admin-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, ADMIN_TOKEN_FILE);

  const first = await spawnChildHub(dir);
  cleanups.push(() => killChildHub(first));
  const old = await readAdminToken(dir);
  expect((await callApi(first.url, old, 'GET', '/agents')).status).toBe(200);

  const refused = await rotate(dir);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain(
    `is locked by the hub with pid ${first.child.pid} on host ${os.hostname()}`,
  );
  expect(await readAdminToken(dir)).toBe(old);

  first.child.kill('SIGTERM');
  expect((await first.exited).code).toBe(0);
  const rotated = await rotate(dir);
  expect(rotated).toEqual({
    code: 0,
    stdout: `revoked 1 admin token(s); the new one is in ${file} (mode 0600)\n`,
    stderr: '',
  });
  const fresh = await readAdminToken(dir);
  expect(fresh).toMatch(/^opu_/);
  expect(fresh).not.toBe(old);
  expect((await stat(file)).mode & 0o777).toBe(0o600);

  const second = await spawnChildHub(dir);
  cleanups.push(() => killChildHub(second));
  expect((await callApi(second.url, old, 'GET', '/agents')).status).toBe(401);
  expect((await callApi(second.url, fresh, 'GET', '/agents')).status).toBe(200);
  // Not a first start: the hub says nothing about the admin token at all.
  expect(second.logs.filter((l) => String(l.msg).includes('admin'))).toEqual([]);
  expect(first.output() + second.output()).not.toMatch(/opu_/);
}, 120_000);

it('rotate-admin-token on a directory with no hub database says so', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-admin-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const result = await rotate(dir);
  expect(result.code).toBe(1);
  expect(result.stderr).toBe(
    `outpost-hub: ${dir} holds no hub database (outpost.db); is --data-dir right?\n`,
  );
});

describe.skipIf(postgresSkip('rotate-admin-token on PostgreSQL') !== undefined)('on PostgreSQL', () => {
  const server = testPostgresOnce();

  it('rotates the admin token in the database; the running hub refuses the old one at once', async () => {
    const url = await (await server()).createDatabase('rotate');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-admin-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const hub = await spawnChildHub(dir, { args: ['--database', url] });
    cleanups.push(() => killChildHub(hub));
    // On PostgreSQL a hub serves before it leads; the leader makes the first admin token.
    await hub.logged('first start: the admin API token is in');
    const old = await readAdminToken(dir);

    const rotated = await rotate(dir, ['--database', url]);
    expect(rotated.stderr).toBe('');
    expect(rotated.stdout).toBe(
      `revoked 1 admin token(s); the new one is in ${path.join(dir, ADMIN_TOKEN_FILE)} (mode 0600)\n`,
    );
    const fresh = await readAdminToken(dir);
    expect(fresh).not.toBe(old);
    expect((await callApi(hub.url, old, 'GET', '/agents')).status).toBe(401);
    expect((await callApi(hub.url, fresh, 'GET', '/agents')).status).toBe(200);
  }, 120_000);
});
