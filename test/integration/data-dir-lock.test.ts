// Issue #11 item 2: one hub per data directory. A second hub on a directory in use refuses to start and
// names the holder; a hub killed with SIGKILL leaves nothing that blocks its restart.

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { readLockHolder } from '../../hub/store/lock-holder.js';
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
