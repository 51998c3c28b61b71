// Issue #11 item 2: one hub per data directory. A second hub on a directory in use refuses to start and
// names the holder; a hub killed with SIGKILL leaves nothing that blocks its restart.

import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { DEFAULT_HUB_OPTIONS, startHub, type HubOptions } from '../../hub/hub.js';
import { readLockHolder } from '../../hub/store/lock-holder.js';
import { testLogger } from '../support/harness.js';
import { ChildHubExitedError, spawnChildHub, killChildHub } from '../support/child-hub.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

it('refuses a second hub on a locked data directory, naming the holder; a SIGKILLed holder does not block a restart', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-lock-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const first = await spawnChildHub(dir);
  cleanups.push(() => killChildHub(first));

  const refused = await spawnChildHub(dir).then(
    (second) => {
      killChildHub(second);
      return undefined;
    },
    (err: unknown) => err,
  );
  expect(refused).toBeInstanceOf(ChildHubExitedError);
  const { code, stderr } = refused as ChildHubExitedError;
  expect(code).toBe(1);
  expect(stderr).toMatch(
    new RegExp(
      `^outpost-hub: data directory ${dir} is locked by the hub with pid ${first.child.pid} on host ${os.hostname()}, since \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z; exactly one hub may open a data directory: stop that one first\\n$`,
    ),
  );
  // The first hub did not notice: it still serves.
  expect((await fetch(`${first.url}/readyz`)).status).toBe(200);

  first.child.kill('SIGKILL');
  expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
  const restarted = await spawnChildHub(dir);
  cleanups.push(() => killChildHub(restarted));
  expect((await fetch(`${restarted.url}/readyz`)).status).toBe(200);
  expect(await readLockHolder(dir)).toMatchObject({ pid: restarted.child.pid, host: os.hostname() });
}, 90_000);

it('a hub that fails to start (its gRPC port is taken) leaves the data directory free', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-lock-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => taken.close(() => resolve())));
  const options = (grpcPort: number): HubOptions => ({
    ...DEFAULT_HUB_OPTIONS,
    dataDir: dir,
    tls: undefined,
    httpListen: { host: '127.0.0.1', port: 0 },
    grpcListen: `127.0.0.1:${grpcPort}`,
  });

  await expect(startHub(options((taken.address() as net.AddressInfo).port), testLogger())).rejects.toThrow();
  const hub = await startHub(options(0), testLogger());
  await hub.close();
});
