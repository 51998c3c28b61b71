// A resource whose config changes: no build uses a version of its old source (Concourse scopes versions
// by resource config and "picks up the new configuration immediately"), and versions that went through
// a job still count for `passed` when the resource's custom type gets a new version.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildSummary } from '../../hub/api/types.js';
import {
  readBuildEvents,
  setPipeline,
  startTestAgent,
  startTestHub,
  triggerJob,
  waitForEvents,
  type TestHub,
} from '../support/harness.js';

let hub: TestHub;
let agent: Awaited<ReturnType<typeof startTestAgent>>;
let dir: string;

beforeAll(async () => {
  // The hub's default check and schedule ticks, as the race was seen with.
  hub = await startTestHub();
  agent = await startTestAgent(hub, {
    name: 'agent-1',
    pools: '  - name: local\n    platform: linux\n    capacity: 32',
  });
  await agent.welcomed;
  dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-reconfigure-'));
}, 60_000);

afterAll(async () => {
  await agent.stop();
  await hub.close();
  await rm(dir, { recursive: true, force: true });
});

/** The build once it ended: its event stream closes then (no time bound; this test loads the machine). */
async function finished(id: number): Promise<BuildSummary> {
  await readBuildEvents(hub, id);
  return (await hub.api<BuildSummary>('GET', `/builds/${id}`)).body;
}

async function logOf(id: number): Promise<string> {
  return (await readBuildEvents(hub, id))
    .filter((e) => e.event === 'log' || e.event === 'error')
    .map((e) => String(e.data.payload ?? e.data.message))
    .join('');
}

/** testflight's reconfiguring.yml. */
const reconfiguring = (version: string) => `resources:
- name: some-resource
  type: mock
  source: { force_version: ${version} }
jobs:
- name: some-passing-job
  plan:
  - get: some-resource
    trigger: true
`;

describe('reconfiguring a resource', () => {
  it('uses the new source at once: set, trigger, set again, trigger, many pipelines at a time', async () => {
    // Seen about one time in four on a loaded machine; 16 pipelines at once, twice each, make the load,
    // and 32 runs would all pass by chance with odds of about 1 in 10^4 if the race were still there.
    const runs = await Promise.all(
      Array.from({ length: 16 }, async (_, i) => {
        const pipeline = `reconfigure-${i}`;
        const wrong: string[] = [];
        for (let round = 0; round < 2; round++)
          for (const version of [`a-${i}-${round}`, `b-${i}-${round}`]) {
            await setPipeline(hub, pipeline, reconfiguring(version));
            const id = await triggerJob(hub, pipeline, 'some-passing-job');
            const build = await finished(id);
            const log = await logOf(id);
            if (build.status !== 'succeeded' || !log.includes(`fetching version: ${version}\n`))
              wrong.push(`${pipeline} #${build.name} with ${version}: ${build.status}\n${log}`);
          }
        return wrong;
      }),
    );
    expect(runs.flat()).toEqual([]);
  }, 300_000);

  it('never fetches a version its build chose under the old source with the new one', async () => {
    const gate = path.join(dir, 'gate');
    const config = (version: string) => `resources:
- name: r
  type: mock
  check_every: never
  source: { force_version: ${version} }
jobs:
- name: j
  plan:
  - task: hold
    config:
      platform: linux
      run: { path: sh, args: [-c, 'echo at-the-gate; while [ ! -f ${gate} ]; do sleep 0.1; done'] }
  - get: r
`;
    await setPipeline(hub, 'held', config('old'));
    const id = await triggerJob(hub, 'held', 'j');
    // Its inputs (old) are chosen when it starts; the get runs after the source changed.
    await waitForEvents(hub, id, 'at-the-gate');
    await setPipeline(hub, 'held', config('new'));
    await writeFile(gate, '');
    expect((await finished(id)).status).toBe('errored');
    const log = await logOf(id);
    expect(log).not.toContain('fetching version: old');
    expect(log).toContain(
      'resource "r" changed after this build chose its version {"version":"old"}, which its new config does not have; trigger the job again',
    );
    // Triggered again, it runs with the new source's version.
    const again = await triggerJob(hub, 'held', 'j');
    expect((await finished(again)).status).toBe('succeeded');
    expect(await logOf(again)).toContain('fetching version: new');
  }, 120_000);

  it("keeps passed versions when the resource's custom type gets a new version", async () => {
    await setPipeline(
      hub,
      'typed',
      `resource_types:
- name: my-mock
  type: mock
  check_every: never
  source: { initial_version: t1 }
resources:
- name: r
  type: my-mock
  check_every: never
  source: { force_version: r1 }
jobs:
- name: up
  plan: [{ get: r }]
- name: down
  plan: [{ get: r, passed: [up] }]
`,
    );
    expect((await finished(await triggerJob(hub, 'typed', 'up'))).status).toBe('succeeded');
    // A new version of the type: r's versions start a new history (as in Concourse).
    const typeCheck = await hub.api<BuildSummary>(
      'POST',
      '/teams/main/pipelines/typed/resource-types/my-mock/check',
      {
        from: { version: 't2' },
      },
    );
    expect((await finished(typeCheck.body.id)).status).toBe('succeeded');
    const check = await hub.api<BuildSummary>('POST', '/teams/main/pipelines/typed/resources/r/check', {});
    expect((await finished(check.body.id)).status).toBe('succeeded');
    // r1 went through up, so down may run with it from the new history.
    const down = await triggerJob(hub, 'typed', 'down');
    expect((await finished(down)).status).toBe('succeeded');
    expect(await logOf(down)).toContain('fetching version: r1');
  }, 120_000);
});
