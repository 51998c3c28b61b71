// What the web UI (and any client) draws from: each job's inputs with their `passed` constraints, and a
// build's step tree whose ids match its events' origins.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildStep, JobSummary } from '../../hub/api/types.js';
import { setPipeline, startTestHub, triggerJob, type TestHub } from '../support/harness.js';

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
  await setPipeline(
    hub,
    'chain',
    `resources:
- name: src
  type: mock
  source: {initial_version: v1}
jobs:
- name: unit
  plan:
  - get: src
    trigger: true
- name: deploy
  plan:
  - in_parallel:
    - get: src
      passed: [unit]
  - task: ship
    config:
      platform: linux
      run: {path: echo, args: [hi]}
    ensure:
      task: cleanup
      config:
        platform: linux
        run: {path: 'true'}
`,
  );
});
afterAll(() => hub.close());

describe('API fields for the pipeline graph and the build page', () => {
  it('lists each job with its inputs and their passed jobs', async () => {
    const res = await hub.api<JobSummary[]>('GET', '/teams/main/pipelines/chain/jobs');
    expect(res.body.map((j) => [j.name, j.inputs])).toEqual([
      ['unit', [{ name: 'src', resource: 'src', passed: [], trigger: true }]],
      ['deploy', [{ name: 'src', resource: 'src', passed: ['unit'], trigger: false }]],
    ]);
  });

  it("answers a build's step tree, without its config", async () => {
    const id = await triggerJob(hub, 'chain', 'deploy');
    const res = await hub.api<BuildStep>('GET', `/builds/${id}/plan`);
    expect(res.status).toBe(200);
    const shape = (s: BuildStep): unknown => [s.kind, s.name, ...s.children.map(shape)];
    expect(shape(res.body)).toEqual([
      'do',
      null,
      ['in_parallel', null, ['get', 'src']],
      ['ensure', null, ['task', 'ship'], ['task', 'cleanup']],
    ]);
    expect(JSON.stringify(res.body)).not.toContain('initial_version');
    expect((await hub.api('GET', '/builds/999999/plan')).status).toBe(404);
  });
});
