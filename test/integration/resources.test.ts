// Resources end to end on a real hub and agent: checks, versions flowing through passed chains,
// builds triggered by new versions (time and mock), webhooks, pins, pause and pending reasons.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildSummary, ResourceSummary, ResourceVersionSummary } from '../../hub/api/types.js';
import {
  readBuildEvents,
  setPipeline,
  startTestAgent,
  startTestHub,
  triggerJob,
  type TestHub,
} from '../support/harness.js';
import { eventually } from '../support/eventually.js';

let hub: TestHub;
let agent: Awaited<ReturnType<typeof startTestAgent>>;

beforeAll(async () => {
  // Short ticks so due checks and schedules happen within a test's patience.
  hub = await startTestHub({ checkTickMs: 200, scheduleTickMs: 500 });
  agent = await startTestAgent(hub, {
    name: 'agent-1',
    pools: '  - name: local\n    platform: linux\n    capacity: 8',
  });
  await agent.welcomed;
}, 60_000);

afterAll(async () => {
  await agent.stop();
  await hub.close();
});

async function builds(pipeline: string, job: string): Promise<BuildSummary[]> {
  const res = await hub.api<BuildSummary[]>('GET', `/teams/main/pipelines/${pipeline}/jobs/${job}/builds`);
  return res.body;
}

async function finished(pipeline: string, job: string, name: string): Promise<BuildSummary> {
  return eventually(`${pipeline}/${job} #${name} to finish`, async () => {
    const build = (await builds(pipeline, job)).find((b) => b.name === name);
    return build && !['pending', 'started'].includes(build.status) ? build : undefined;
  });
}

async function logOf(buildId: number): Promise<string> {
  const events = await readBuildEvents(hub, buildId);
  return events
    .filter((e) => e.event === 'log')
    .map((e) => String(e.data.payload))
    .join('');
}

async function check(
  pipeline: string,
  resource: string,
  from?: Record<string, string>,
): Promise<BuildSummary> {
  const res = await hub.api<BuildSummary>(
    'POST',
    `/teams/main/pipelines/${pipeline}/resources/${resource}/check`,
    from ? { from } : {},
  );
  expect(res.status).toBe(201);
  return res.body;
}

async function checkFinished(build: BuildSummary): Promise<BuildSummary> {
  return eventually(`check build ${build.id}`, async () => {
    const res = await hub.api<BuildSummary>('GET', `/builds/${build.id}`);
    return ['pending', 'started'].includes(res.body.status) ? undefined : res.body;
  });
}

async function versions(pipeline: string, resource: string): Promise<string[]> {
  const res = await hub.api<ResourceVersionSummary[]>(
    'GET',
    `/teams/main/pipelines/${pipeline}/resources/${resource}/versions`,
  );
  return res.body.map((v) => v.version.version ?? v.version.time ?? JSON.stringify(v.version));
}

describe('resources', () => {
  it('carries one version through a passed chain of three jobs, each triggered by it', async () => {
    await setPipeline(
      hub,
      'chain',
      `resources:
- name: r
  type: mock
  check_every: never
  source: { no_initial_version: true }
jobs:
- name: a
  plan: [{ get: r, trigger: true }]
- name: b
  plan: [{ get: r, trigger: true, passed: [a] }]
- name: c
  plan:
  - get: r
    trigger: true
    passed: [b]
  - task: show
    config:
      platform: linux
      inputs: [{ name: r }]
      run: { path: cat, args: [r/version] }
`,
    );
    expect((await checkFinished(await check('chain', 'r', { version: 'v1' }))).status).toBe('succeeded');
    expect(await versions('chain', 'r')).toEqual(['v1']);
    for (const job of ['a', 'b', 'c']) expect((await finished('chain', job, '1')).status).toBe('succeeded');
    const c1 = (await builds('chain', 'c'))[0];
    expect(await logOf(c1?.id ?? 0)).toContain('v1\n');
    // A newer version moves through the chain as well; nothing runs twice for the old one.
    await checkFinished(await check('chain', 'r', { version: 'v2' }));
    for (const job of ['a', 'b', 'c']) expect((await finished('chain', job, '2')).status).toBe('succeeded');
    const c2 = (await builds('chain', 'c'))[0];
    expect(await logOf(c2?.id ?? 0)).toContain('v2\n');
    expect((await builds('chain', 'a')).length).toBe(2);
  }, 60_000);

  it('triggers builds by itself from a time resource', async () => {
    await setPipeline(
      hub,
      'clock',
      `resources:
- name: tick
  type: time
  check_every: 1s
  source: { interval: 1s }
jobs:
- name: on-tick
  plan:
  - get: tick
    trigger: true
  - task: show
    config:
      platform: linux
      inputs: [{ name: tick }]
      run: { path: cat, args: [tick/timestamp] }
`,
    );
    const second = await finished('clock', 'on-tick', '2');
    expect(second.status).toBe('succeeded');
    const [newest, older] = await builds('clock', 'on-tick');
    expect(await logOf(newest?.id ?? 0)).not.toBe(await logOf(older?.id ?? 0));
    expect((await versions('clock', 'tick')).length).toBeGreaterThanOrEqual(2);
  }, 60_000);

  it('checks a resource when its webhook is called with the right token, and only then', async () => {
    await setPipeline(
      hub,
      'hooked',
      `resources:
- name: r
  type: mock
  check_every: never
  webhook_token: s3cret
  source: { force_version: from-webhook }
jobs:
- name: j
  plan: [{ get: r, trigger: true }]
`,
    );
    const url = `${hub.url}/api/v1/teams/main/pipelines/hooked/resources/r/check/webhook`;
    const wrong = await fetch(`${url}?webhook_token=nope`, { method: 'POST' });
    expect(wrong.status).toBe(401);
    expect(await versions('hooked', 'r')).toEqual([]);
    const right = await fetch(`${url}?webhook_token=s3cret`, { method: 'POST' });
    expect(right.status).toBe(201);
    const started = (await right.json()) as BuildSummary;
    // A webhook caller holds no login: it learns the check's id and status, no pipeline or team names.
    expect(Object.keys(started).sort()).toEqual(['id', 'status']);
    expect((await checkFinished(started)).status).toBe('succeeded');
    expect(await versions('hooked', 'r')).toEqual(['from-webhook']);
    expect((await finished('hooked', 'j', '1')).status).toBe('succeeded');
  }, 60_000);

  it('shows why a build is pending, and starts it once the reason is gone', async () => {
    await setPipeline(
      hub,
      'waits',
      `resources:
- name: r
  type: mock
  check_every: never
  source: { initial_version: first }
jobs:
- name: up
  plan: [{ get: r }]
- name: down
  plan: [{ get: r, passed: [up] }]
`,
    );
    const id = await triggerJob(hub, 'waits', 'down');
    const reason = (text: string) =>
      eventually(`the pending reason "${text}"`, async () => {
        const res = await hub.api<BuildSummary>('GET', `/builds/${id}`);
        return res.body.waitingReason === text ? res.body : undefined;
      });
    // `down` has a passed constraint, so its manual trigger does not check r itself.
    expect((await reason('no versions of resource "r" are available yet')).status).toBe('pending');
    await checkFinished(await check('waits', 'r'));
    expect((await reason('no version of r satisfies passed: [up]')).status).toBe('pending');
    // A manual trigger of `up` checks r first (check_every: never notwithstanding) and uses its version.
    await triggerJob(hub, 'waits', 'up');
    expect((await finished('waits', 'up', '1')).status).toBe('succeeded');
    expect((await finished('waits', 'down', '1')).status).toBe('succeeded');
  }, 60_000);

  it('reports a failing check on the resource and in the check build', async () => {
    await setPipeline(
      hub,
      'broken',
      `resources:
- name: r
  type: mock
  check_every: never
  source: { check_failure: super broken }
jobs:
- name: j
  plan: [{ get: r }]
`,
    );
    const build = await checkFinished(await check('broken', 'r'));
    expect(build.status).toBe('failed');
    expect(await logOf(build.id)).toContain('super broken');
    const res = await hub.api<ResourceSummary[]>('GET', '/teams/main/pipelines/broken/resources');
    expect(res.body[0]).toMatchObject({ name: 'r', checkStatus: 'failed' });
  }, 60_000);

  it('uses only the pinned version, and waits while the pipeline is paused', async () => {
    await setPipeline(
      hub,
      'pinned',
      `resources:
- name: r
  type: mock
  check_every: never
  source: { no_initial_version: true }
jobs:
- name: j
  plan:
  - get: r
  - task: show
    config:
      platform: linux
      inputs: [{ name: r }]
      run: { path: cat, args: [r/version] }
`,
    );
    for (const v of ['old', 'new']) await checkFinished(await check('pinned', 'r', { version: v }));
    const list = await hub.api<ResourceVersionSummary[]>(
      'GET',
      '/teams/main/pipelines/pinned/resources/r/versions',
    );
    const old = list.body.find((v) => v.version.version === 'old');
    expect(
      (await hub.api('PUT', `/teams/main/pipelines/pinned/resources/r/versions/${old?.id ?? 0}/pin`, {}))
        .status,
    ).toBe(204);
    expect((await hub.api('PUT', '/teams/main/pipelines/pinned/pause')).status).toBe(204);
    const id = await triggerJob(hub, 'pinned', 'j');
    await eventually('the paused reason', async () => {
      const res = await hub.api<BuildSummary>('GET', `/builds/${id}`);
      return res.body.waitingReason === 'pipeline is paused' ? true : undefined;
    });
    expect((await hub.api('PUT', '/teams/main/pipelines/pinned/unpause')).status).toBe(204);
    const build = await finished('pinned', 'j', '1');
    expect(build.status).toBe('succeeded');
    expect(await logOf(build.id)).toContain('old\n');
  }, 60_000);
});
