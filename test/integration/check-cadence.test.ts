// Issue #11 item 7: a resource is checked every `check_every`, counted from the previous check's start
// (as Concourse does), not at the next multiple of the checker's 5 s tick; so a `time` resource gives a
// version every `interval` rounded up to its next check, not to the next tick.

import { afterEach, expect, it } from 'vitest';
import type { ResourceVersionSummary } from '../../hub/api/types.js';
import { parseRfc3339 } from '../../agent/resources/time.js';
import { startTestAgent, startTestHub, type TestHub } from '../support/harness.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const gaps = (times: number[]) => times.slice(1).map((t, i) => t - times[i]!);

async function setPipeline(hub: TestHub, source: string): Promise<number> {
  expect((await hub.api('PUT', '/teams/main/pipelines/p/config', { source, file: 'p.yml' })).status).toBe(
    200,
  );
  expect((await hub.api('PUT', '/teams/main/pipelines/p/unpause')).status).toBe(204);
  return (await hub.store.getPipeline((await hub.store.getTeam('main'))!.id, 'p'))!.id;
}

it('checks every check_every from the previous start, and a time resource versions every interval', async () => {
  // The tick is the longest sleep: 5 s, far above check_every, so it cannot be what paces the checks.
  const hub = await startTestHub({ checkTickMs: 5_000 });
  cleanups.push(() => hub.close());
  const agent = await startTestAgent(hub);
  cleanups.push(() => agent.stop());
  await agent.welcomed;
  const pipelineId = await setPipeline(
    hub,
    `resources:
- name: clock
  type: time
  check_every: 1s
  source: {interval: 3s}
- name: fast
  type: mock
  check_every: 1s
  source: {initial_version: v1}
jobs: []
`,
  );

  const until = Date.now() + 60_000;
  let versions: number[] = [];
  while (versions.length < 4) {
    if (Date.now() > until) throw new Error(`only ${versions.length} time versions in 60 s`);
    await new Promise((r) => setTimeout(r, 200));
    const res = await hub.api<ResourceVersionSummary[]>(
      'GET',
      '/teams/main/pipelines/p/resources/clock/versions',
    );
    versions = res.body.map((v) => parseRfc3339(v.version.time!)!).sort((a, b) => a - b);
  }
  const checks = (await hub.store.listBuilds({ pipelineId, jobKind: 'check', limit: 1000 }))
    .filter((b) => b.jobName === 'check:fast')
    .map((b) => b.createdAt)
    .sort((a, b) => a - b);

  // Never sooner than asked; later only by the time a pass takes on a shared machine (typically 1-40 ms).
  // The 5 s tick this replaces gave gaps of 5 s, the bounds below keep well clear of that.
  for (const gap of gaps(checks)) expect(gap).toBeGreaterThanOrEqual(1_000);
  for (const gap of gaps(checks)) expect(gap).toBeLessThan(2_500);
  // A version when the last is at least `interval` old, seen by the next check: interval + < check_every.
  for (const gap of gaps(versions)) expect(gap).toBeGreaterThanOrEqual(3_000);
  for (const gap of gaps(versions)) expect(gap).toBeLessThan(5_000);
  console.log(
    `check cadence: mock check_every 1s -> gaps ${gaps(checks).join(', ')} ms; time interval 3s, check_every 1s -> ${gaps(versions).join(', ')} ms`,
  );
}, 90_000);
