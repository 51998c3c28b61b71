// The kubernetes e2e scenarios against a real cluster: see README.md. Skips without $KUBECONFIG.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubernetesExecutor } from '../../agent/executors/kubernetes/executor.js';
import { settingsFor } from '../../agent/executors/kubernetes/settings.test-fixtures.js';
import type { AgentSummary } from '../../hub/api/types.js';
import {
  finalStatus,
  logText,
  openEventStream,
  readBuildEvents,
  setPipeline,
  startTestAgent,
  startTestHub,
  triggerJob,
  type TestHub,
} from '../support/harness.js';

const kubeconfig = process.env.KUBECONFIG;
const NS = process.env.OUTPOST_K8S_NAMESPACE ?? 'outpost-test';
const windows = process.env.OUTPOST_K8S_WINDOWS === '1';
// The URL the cluster's pods reach this machine's agent at (kind: the docker network's gateway,
// e.g. http://172.18.0.1:7790); the agent listens on OUTPOST_K8S_DATA_LISTEN (default 0.0.0.0:7790).
const dataAdvertise = process.env.OUTPOST_K8S_DATA_ADVERTISE;
const dataListen = process.env.OUTPOST_K8S_DATA_LISTEN ?? '0.0.0.0:7790';
if (!kubeconfig) console.log('test:k8s: KUBECONFIG is not set; skipping the real-cluster scenarios');
else if (!windows)
  console.log('test:k8s: OUTPOST_K8S_WINDOWS is not 1; skipping the scenario with a windows node');
if (kubeconfig && !dataAdvertise)
  console.log(
    'test:k8s: OUTPOST_K8S_DATA_ADVERTISE is not set; skipping the data_path agent scenario (pods must reach the agent)',
  );

let hub: TestHub;
let agent: Awaited<ReturnType<typeof startTestAgent>>;
let dir: string;

function pools(): string {
  const k8s = (name: string, platform: string, extra: string, tags?: string) => `  - name: ${name}
    platform: ${platform}
    executor: kubernetes
    capacity: 4
${tags ? `    tags: [${tags}]\n` : ''}    kubernetes:
      namespace: ${NS}
      kubeconfig: ${kubeconfig ?? ''}
${extra.includes('image_pull_grace_seconds:') ? '' : '      image_pull_grace_seconds: 15\n'}${extra}`;
  return [
    k8s('linux', 'linux', '      data_path: api\n'),
    ...(dataAdvertise ? [k8s('agentdata', 'linux', '      data_path: agent\n', 'agentdata')] : []),
    k8s('windows', 'windows', ''),
    k8s('pullfail', 'linux', '      default_image: registry.invalid/outpost/missing:1\n', 'pullfail'),
    k8s(
      'nowhere',
      'linux',
      '      node_selector: { outpost.dev/no-such-label: "x" }\n      pending_timeout_seconds: 5\n',
      'nowhere',
    ),
    // The step container runs as another uid than the helpers (an image's own non-root user).
    k8s(
      'otheruser',
      'linux',
      '      pod_patch: { spec: { containers: [ { name: step, securityContext: { runAsUser: 1000 } } ] } }\n',
      'otheruser',
    ),
    k8s(
      'stuck',
      'linux',
      '      default_image: registry.invalid/outpost/missing:1\n      image_pull_grace_seconds: 600\n',
      'stuck',
    ),
  ].join('');
}

const task = (name: string, platform: string, script: string, extra = '', tags = '') => `  - task: ${name}
${tags ? `    tags: [${tags}]\n` : ''}    config:
      platform: ${platform}
${extra}      run:
        path: sh
        args: ['-c', ${JSON.stringify(script)}]
`;

async function run(name: string, steps: string) {
  await setPipeline(hub, name, `jobs:\n- name: job\n  plan:\n${steps}`);
  return readBuildEvents(hub, await triggerJob(hub, name, 'job'));
}

const errorOf = (events: Awaited<ReturnType<typeof readBuildEvents>>) =>
  events.find((e) => e.event === 'error')?.data.message as string | undefined;

describe.skipIf(!kubeconfig)('kubernetes executor on a real cluster', () => {
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-k8s-real-'));
    hub = await startTestHub();
    agent = await startTestAgent(hub, {
      name: `k8s-real-${process.pid}`,
      pools: pools(),
      ...(dataAdvertise
        ? { extraConfig: `data_endpoint: { listen: ${dataListen}, advertise: ${dataAdvertise} }` }
        : {}),
    });
    await agent.welcomed;
  });
  afterAll(async () => {
    await agent.stop();
    await hub.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('passes an output from one step to the next', async () => {
    const events = await run(
      'pass',
      task('make', 'linux', 'echo made > out/file', '      outputs: [{ name: out }]\n') +
        task('use', 'linux', 'cat out/file', '      inputs: [{ name: out }]\n'),
    );
    expect(errorOf(events)).toBeUndefined();
    expect(finalStatus(events)).toBe('succeeded');
    expect(logText(events)).toBe('made\n');
  });

  it.skipIf(!dataAdvertise)(
    'data_path agent: inputs, outputs and a task cache over the pod network to the agent',
    async () => {
      const tagged = (name: string, script: string, extra = '') =>
        task(name, 'linux', script, extra, 'agentdata');
      const pipeline =
        tagged(
          'make',
          'head -c 5000000 /dev/zero > out/blob; if [ -f c/seen ]; then echo cached; fi; touch c/seen',
          '      outputs: [{ name: out }]\n      caches: [{ path: c }]\n',
        ) + tagged('use', 'wc -c < out/blob', '      inputs: [{ name: out }]\n');
      const first = await run('agentdata', pipeline);
      expect(errorOf(first)).toBeUndefined();
      expect(finalStatus(first)).toBe('succeeded');
      expect(logText(first).trim()).toBe('5000000');
      const second = await readBuildEvents(hub, await triggerJob(hub, 'agentdata', 'job'));
      expect(logText(second)).toContain('cached');
    },
  );

  it.skipIf(!windows)('passes an output from a linux step to a windows step', async () => {
    const events = await run(
      'cross',
      task('make', 'linux', 'echo made > out/file', '      outputs: [{ name: out }]\n') +
        `  - task: use
    config:
      platform: windows
      inputs: [{ name: out }]
      run: { path: cmd, args: ['/c', 'type out\\\\file'] }
`,
    );
    expect(finalStatus(events)).toBe('succeeded');
    expect(logText(events)).toContain('made');
  });

  it.skipIf(!windows)(
    'passes an output from a windows step back to a linux step (the helper says its size)',
    async () => {
      const events = await run(
        'crossback',
        `  - task: make
    config:
      platform: windows
      outputs: [{ name: out }]
      run: { path: cmd, args: ['/c', 'echo made> out\\\\file'] }
` + task('use', 'linux', 'cat out/file', '      inputs: [{ name: out }]\n'),
      );
      expect(errorOf(events)).toBeUndefined();
      expect(finalStatus(events)).toBe('succeeded');
      expect(logText(events)).toContain('made');
    },
  );

  it("a failed step's pod keeps its helper: intercept enters it in the step's directory", async () => {
    // The executor itself (the runner's keep timer is covered against the fake in intercept.test.ts).
    const executor = new KubernetesExecutor({
      settings: settingsFor({ namespace: NS, keepFailedSteps: true }),
      agent: `k8s-real-intercept-${process.pid}`,
      workRoot: path.join(dir, 'intercept'),
      kubeConfig: kubeConfigFrom(kubeconfig ?? ''),
    });
    const step = await executor.start({
      leaseId: `intercept-${process.pid}`,
      run: { path: 'sh', args: ['-c', 'echo left behind > note.txt; exit 1'], dir: 'src', user: '' },
      env: { MARKER: 'from-the-step' },
      inputs: [],
      outputs: [],
      timeoutMs: 0,
      privileged: false,
    });
    try {
      // The step's result waits for its log to be read.
      let log = '';
      for await (const piece of step.logs()) log += piece.data.toString();
      expect(log).toBe('');
      expect((await step.wait()).status).toBe('failed');
      let out = '';
      const terminal = await step.intercept!(
        {
          argv: ['sh', '-c', 'echo $PWD; echo $MARKER; cat note.txt; exit 3'],
          tty: false,
          rows: 24,
          cols: 80,
        },
        (_stream, data) => (out += data.toString()),
      );
      terminal.closeStdin();
      expect((await terminal.exited).exitStatus).toBe(3);
      expect(out).toBe('/workspace/src\nfrom-the-step\nleft behind\n');
    } finally {
      await step.cleanup();
    }
  });

  it("reports each pool's admission (a dry-run create at agent start) to the hub", async () => {
    const { body } = await hub.api<AgentSummary[]>('GET', '/agents');
    const linux = body
      .find((a) => a.name.endsWith(`k8s-real-${process.pid}`))
      ?.pools.find((p) => p.name === 'linux');
    expect(linux?.admission).toEqual({ verdict: 'admitted', message: '' });
  });

  it('a non-root step writes its inputs and outputs, also as another uid than the helpers', async () => {
    const events = await run(
      'nonroot',
      task(
        'make',
        'linux',
        'echo made > out/file && mkdir out/dir && id -u',
        '      outputs: [{ name: out }]\n',
      ) +
        task(
          'again',
          'linux',
          // Writes into its input and its output as uid 1000, through the pod's fsGroup.
          'echo more >> out/file && mkdir out/dir2 && echo x > res/f && id -u',
          '      inputs: [{ name: out }]\n      outputs: [{ name: res }]\n',
          'otheruser',
        ),
    );
    expect(errorOf(events)).toBeUndefined();
    expect(finalStatus(events)).toBe('succeeded');
    expect(logText(events)).toBe('65532\n1000\n');
  });

  it('an agent restart mid-step: the step continues, every line once', async () => {
    await setPipeline(
      hub,
      'restart',
      `jobs:\n- name: job\n  plan:\n${task('t', 'linux', 'for i in $(seq 1 60); do echo line $i; sleep 0.25; done')}`,
    );
    const build = await triggerJob(hub, 'restart', 'job');
    const stream = await openEventStream(hub, build);
    await stream.until('line 10');
    await stream.cancel();
    await agent.stop();
    agent = await startTestAgent(hub, {
      name: `k8s-real-${process.pid}`,
      pools: pools(),
      ...(dataAdvertise
        ? { extraConfig: `data_endpoint: { listen: ${dataListen}, advertise: ${dataAdvertise} }` }
        : {}),
    });
    await agent.welcomed;
    const events = await readBuildEvents(hub, build);
    expect(finalStatus(events)).toBe('succeeded');
    expect(logText(events)).toBe(Array.from({ length: 60 }, (_, i) => `line ${i + 1}\n`).join(''));
  });

  it('unschedulable', async () => {
    const events = await run('unsched', task('t', 'linux', 'true', '', 'nowhere'));
    expect(finalStatus(events)).toBe('errored');
    // Pending (an autoscaler may add a node) until the pool's pending timeout, with the scheduler's words.
    expect(errorOf(events)).toMatch(/^the pod did not start within 5s \(pending timeout\): unschedulable: /);
  });

  it('image pull failure', async () => {
    const events = await run('pull', task('t', 'linux', 'true', '', 'pullfail'));
    expect(finalStatus(events)).toBe('errored');
    expect(errorOf(events)).toMatch(/^image pull failed: registry.invalid/);
  });

  it('deadline exceeded', async () => {
    const events = await run(
      'deadline',
      task('t', 'linux', 'sleep 120').replace('  - task: t\n', '  - task: t\n    timeout: 10s\n'),
    );
    expect(finalStatus(events)).toBe('failed');
    expect(errorOf(events)).toBe('timeout exceeded');
  });

  it('abort of a Pending pod', async () => {
    await setPipeline(
      hub,
      'abort',
      `jobs:\n- name: job\n  plan:\n${task('t', 'linux', 'true', '', 'stuck')}`,
    );
    const build = await triggerJob(hub, 'abort', 'job');
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect((await hub.api('PUT', `/builds/${build}/abort`)).status).toBe(204);
    expect(finalStatus(await readBuildEvents(hub, build))).toBe('aborted');
  });

  it("the seed pipeline: a registry-image get's digest is the image the task's pod pulls", async () => {
    const repository = process.env.OUTPOST_K8S_IMAGE_REPOSITORY ?? 'busybox';
    const name = `seed-${process.pid}`;
    await setPipeline(
      hub,
      name,
      `resources:
- name: image
  type: registry-image
  check_every: never
  source: { repository: ${repository}, tag: '1.37' }
jobs:
- name: job
  plan:
  - get: image
  - task: use-it
    image: image
    config: {platform: linux, run: {path: echo, args: ["Hello, world!"]}}
`,
    );
    const check = await hub.api<{ id: number }>(
      'POST',
      `/teams/main/pipelines/${name}/resources/image/check`,
      {},
    );
    expect(finalStatus(await readBuildEvents(hub, check.body.id))).toBe('succeeded');
    const events = await readBuildEvents(hub, await triggerJob(hub, name, 'job'));
    expect(errorOf(events)).toBeUndefined();
    expect(logText(events)).toContain('Hello, world!\n');
    const digest = (events.find((e) => e.event === 'finish-get')?.data.version as { digest: string }).digest;
    // The kubelet's own record of what it pulled (events outlive the deleted pod).
    const core = kubeConfigFrom(kubeconfig ?? '').makeApiClient(CoreV1Api);
    const pulled = await core.listNamespacedEvent({ namespace: NS, fieldSelector: 'reason=Pulled' });
    expect(pulled.items.some((e) => e.message?.includes(`${repository}@${digest}`))).toBe(true);
  });
});

function kubeConfigFrom(file: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  return kc;
}
