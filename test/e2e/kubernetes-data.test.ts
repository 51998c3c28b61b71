// The real hub and agent with a Kubernetes pool on `data_path: agent` against the fake API server:
// outputs pass between steps over the agent's data endpoint (the fake's containers are local
// processes, so the helpers really fetch from and push to it), and task caches are kept across builds
// until clear-task-cache, as on process pools.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCUMENTED_RBAC } from '../../agent/executors/kubernetes/rbac.js';
import { startFakeKube, type FakeKube } from '../support/fake-k8s/index.js';
import {
  finalStatus,
  logText,
  readBuildEvents,
  setPipeline,
  startTestAgent,
  startTestHub,
  triggerJob,
  type TestHub,
} from '../support/harness.js';

const NS = 'ci';
let fake: FakeKube;
let hub: TestHub;
let agent: Awaited<ReturnType<typeof startTestAgent>>;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-k8s-data-e2e-'));
  fake = await startFakeKube({
    namespaces: [NS],
    nodes: [{ name: 'linux-1' }],
    rbac: DOCUMENTED_RBAC.map((r) => ({
      verbs: [...r.verbs],
      resources: [...r.resources],
      namespaces: [NS],
    })),
  });
  const kubeconfig = path.join(dir, 'kubeconfig');
  await writeFile(kubeconfig, fake.kubeconfigYaml());
  hub = await startTestHub();
  agent = await startTestAgent(hub, {
    name: 'k8s-data-agent',
    pools: `  - name: linux
    platform: linux
    executor: kubernetes
    capacity: 2
    kubernetes: { namespace: ${NS}, kubeconfig: ${kubeconfig} }`,
    // No data_path on the pool: a data endpoint makes `agent` its default.
    extraConfig: 'data_endpoint: { listen: 127.0.0.1:0 }',
  });
  await agent.welcomed;
});

afterAll(async () => {
  await agent.stop();
  await hub.close();
  await fake.close();
  await rm(dir, { recursive: true, force: true });
});

const task = (name: string, script: string, extra = '') => `  - task: ${name}
    config:
      platform: linux
${extra}      run: { path: sh, args: ['-c', ${JSON.stringify(script)}] }
`;

async function build(pipeline: string): Promise<{ status: string | undefined; log: string }> {
  const events = await readBuildEvents(hub, await triggerJob(hub, pipeline, 'job'));
  return { status: finalStatus(events), log: logText(events) };
}

describe('kubernetes pool with data_path: agent', () => {
  it('passes an output to the next step without an attach through the API server', async () => {
    await setPipeline(
      hub,
      'pass',
      `jobs:\n- name: job\n  plan:\n${task('make', 'echo made > out/file', '      outputs: [{ name: out }]\n')}${task(
        'use',
        'cat out/file',
        '      inputs: [{ name: out }]\n',
      )}`,
    );
    expect(await build('pass')).toEqual({ status: 'succeeded', log: 'made\n' });
    expect(fake.permissionsUsed().map((p) => p.resource)).not.toContain('pods/attach');
  });

  it('keeps a task cache for the next build of the job until clear-task-cache', async () => {
    const script = 'if [ -f c/file ]; then echo cached; else echo fresh; touch c/file; fi';
    await setPipeline(
      hub,
      'cache',
      `jobs:\n- name: job\n  plan:\n${task('t', script, '      caches: [{ path: c }]\n')}`,
    );
    expect(await build('cache')).toEqual({ status: 'succeeded', log: 'fresh\n' });
    expect(await build('cache')).toEqual({ status: 'succeeded', log: 'cached\n' });
    const cleared = await hub.api('DELETE', '/teams/main/pipelines/cache/jobs/job/tasks/t/cache');
    expect(cleared.status).toBe(200);
    expect(await build('cache')).toEqual({ status: 'succeeded', log: 'fresh\n' });
    expect(await build('cache')).toEqual({ status: 'succeeded', log: 'cached\n' });
  });
});
