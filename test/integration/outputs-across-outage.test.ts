// Issue #11 item 1: a step with outputs that ends while the hub is down (SIGTERM or SIGKILL) must not
// error the build. The agent keeps what it owes the hub (the output upload, the last log lines, the
// result) until the restarted hub resumes the step, and the next step reads the output.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { startChildTestHub } from '../support/child-test-hub.js';
import {
  finalStatus,
  logText,
  openEventStream,
  readBuildEvents,
  setPipeline,
  startTestAgent,
  triggerJob,
} from '../support/harness.js';
import { startTcpProxy } from '../support/tcp-proxy.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A hub child's start (tsx compiles it first) can take over 30 s on a loaded machine. */
const HUB_START_MS = 60_000;
/** Far longer than the outage: the restarted hub must still hold the step's lease. */
const GRACE = '60s';

/** Resolves once `check` holds, polling a local value (an agent metric); fails after `ms`. */
async function until(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe.each(['SIGTERM', 'SIGKILL'] as const)(
  'a step with outputs that ends while the hub is down (%s)',
  (signal) => {
    it('succeeds once the hub is back, and the next step reads its output', async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-outage-'));
      cleanups.push(() => rm(dir, { recursive: true, force: true }));
      const gate = path.join(dir, 'go');
      const args = ['--lease-grace', GRACE, '--heartbeat', '500ms', '--drain-timeout', '5s'];
      const first = await startChildTestHub(path.join(dir, 'hub'), { args, readyTimeoutMs: HUB_START_MS });
      cleanups.push(() => first.hub.close());
      // The agent dials a proxy that outlives the hub: the restarted hub listens on ports of its own, as
      // a port freed by the first could be taken by anything meanwhile.
      const proxy = await startTcpProxy(first.hub.grpcPort);
      cleanups.push(() => proxy.close());
      const agent = await startTestAgent(first.hub, {
        name: 'outage-agent',
        address: `127.0.0.1:${proxy.port}`,
      });
      cleanups.push(() => agent.stop());
      await agent.welcomed;

      const content = `made by build ${signal} ${Date.now()}`;
      // `make` writes its output, then waits for the gate the test opens only once the hub is down.
      const make = `echo ${JSON.stringify(content)} > out/data; echo made; while [ ! -e ${gate} ]; do sleep 0.05; done; echo ended`;
      await setPipeline(
        first.hub,
        'outage',
        `jobs:
- name: job
  plan:
  - task: make
    config:
      platform: linux
      outputs: [{ name: out }]
      run: { path: sh, args: ['-c', ${JSON.stringify(make)}] }
  - task: read
    config:
      platform: linux
      inputs: [{ name: out }]
      run: { path: sh, args: ['-c', 'cat out/data'] }
`,
      );
      const id = await triggerJob(first.hub, 'outage', 'job');
      const stream = await openEventStream(first.hub, id);
      await stream.until('made\\n');
      await stream.cancel();

      first.proc.child.kill(signal);
      const exit = await first.proc.exited;
      expect(signal === 'SIGTERM' ? exit.code : exit.signal).toBe(signal === 'SIGTERM' ? 0 : 'SIGKILL');
      // The step ends now, with the hub down: its output upload fails and waits for the hub.
      await writeFile(gate, '');
      const retries = async () => (await agent.metrics.artifactRetries.get()).values[0]?.value ?? 0;
      await until('the agent to retry the output upload', async () => (await retries()) >= 1);

      const second = await startChildTestHub(path.join(dir, 'hub'), { args, readyTimeoutMs: HUB_START_MS });
      cleanups.push(() => second.hub.close());
      proxy.retarget(second.hub.grpcPort);
      const events = await readBuildEvents(second.hub, id);
      expect(finalStatus(events)).toBe('succeeded');
      expect(logText(events)).toBe(`made\nended\n${content}\n`);
      const build = (await second.hub.api<{ status: string }>('GET', `/builds/${id}`)).body;
      expect(build.status).toBe('succeeded');
      console.log(
        `outputs across a hub ${signal}: upload tried ${await retries()} times before the hub came back`,
      );
    }, 180_000);
  },
);
