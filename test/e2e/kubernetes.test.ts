// The kubernetes executor end to end: the real hub and agent over gRPC, the agent's kubernetes pools
// talking to the fake API server (test/support/fake-k8s) with exactly the RBAC rules docs/kubernetes.md
// documents. Several kubernetes pools and a process pool live in one agent.
// client-node's models are classes, but its API takes plain JSON objects (it serializes them).
/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeKube, type FakeKube, type KObject } from '../support/fake-k8s/index.js';
import { go, untilGo } from '../support/fake-k8s/test-helpers.js';
import {
  capturingLogger,
  finalStatus,
  logText,
  openEventStream,
  readBuildEvents,
  setPipeline,
  startTestAgent,
  startTestHub,
  triggerJob,
  waitForEvents,
  type TestHub,
} from '../support/harness.js';
import { DOCUMENTED_RBAC } from '../../agent/executors/kubernetes/rbac.js';
import { KubernetesExecutor } from '../../agent/executors/kubernetes/index.js';
import { parseAgentConfig } from '../../agent/config.js';
import type { AgentSummary } from '../../hub/api/types.js';

const NS = 'ci';
const MISSING_IMAGE = 'registry.example/missing:1';
let fake: FakeKube;
let hub: TestHub;
let agent: Awaited<ReturnType<typeof startTestAgent>>;
/** The first agent's log: what it saw of each pod, as an operator reads it. */
const agentLog = capturingLogger();
let dir: string;
let kubeconfig: string;

// Failed steps' pods are not kept here (the tests count and inspect the namespace's pods): keeping
// them for intercept is test/e2e/intercept.test.ts's.
function pools(): string {
  const k8s = (
    name: string,
    extra: string,
    opts: { platform?: string; tags?: string } = {},
  ) => `  - name: ${name}
    platform: ${opts.platform ?? 'linux'}
    executor: kubernetes
    capacity: 4
    keep_failed_steps_for: "0"
${opts.tags ? `    tags: [${opts.tags}]\n` : ''}    kubernetes:
      namespace: ${NS}
      kubeconfig: ${kubeconfig}
${extra.includes('image_pull_grace_seconds') ? '' : '      image_pull_grace_seconds: 1\n'}${extra}`;
  return [
    k8s(
      'linux',
      '      node_selector: { pool: linux }\n      resources: { defaults: { cpu: 100m, memory: 64Mi } }\n      readable_secrets: [db-credentials, absent-secret]\n',
    ),
    // The fake runs "Windows" containers as Linux processes and mounts only absolute POSIX paths, so
    // this pool keeps the Linux workspace path and shell; everything else is the Windows pod.
    k8s(
      'windows',
      '      windows_build: "10.0.20348"\n      workspace: /workspace\n      helper_shell: posix\n',
      {
        platform: 'windows',
      },
    ),
    k8s('pullfail', `      default_image: ${MISSING_IMAGE}\n`, { tags: 'pullfail' }),
    k8s('nowhere', '      node_selector: { disktype: ssd }\n      pending_timeout_seconds: 2\n', {
      tags: 'nowhere',
    }),
    k8s(
      'badconfig',
      '      pod_patch: { spec: { containers: [ { name: step, envFrom: [ { secretRef: { name: no-such-secret } } ] } ] } }\n',
      {
        tags: 'badconfig',
      },
    ),
    k8s(
      'stuck',
      `      default_image: ${MISSING_IMAGE}\n      image_pull_grace_seconds: 600\n      pending_timeout_seconds: 2\n`,
      {
        tags: 'stuck',
      },
    ),
    '  - name: local\n    platform: linux\n    capacity: 2\n    tags: [host]\n',
  ].join('');
}

function task(name: string, script: string, o: { platform?: string; tags?: string; extra?: string } = {}) {
  return `  - task: ${name}
${o.tags ? `    tags: [${o.tags}]\n` : ''}    config:
      platform: ${o.platform ?? 'linux'}
${o.extra ?? ''}      run:
        path: sh
        args: ['-c', ${JSON.stringify(script)}]
`;
}

function job(name: string, steps: string, extra = ''): string {
  return `jobs:\n- name: ${name}\n${extra}  plan:\n${steps}`;
}

async function run(pipeline: string, source: string): Promise<Awaited<ReturnType<typeof readBuildEvents>>> {
  await setPipeline(hub, pipeline, source);
  return readBuildEvents(hub, await triggerJob(hub, pipeline, 'job'));
}

const errorOf = (events: Awaited<ReturnType<typeof readBuildEvents>>) =>
  events.find((e) => e.event === 'error')?.data.message as string | undefined;

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const podNamed = (pred: (p: KObject) => boolean) => () => fake.pods(NS).find(pred);
const restartPod = () =>
  fake.pods(NS).find((p) => p.metadata.labels?.['outpost.dev/pipeline'] === 'restart')!;

const running = (p: KObject) =>
  Boolean((p as V1Pod).status?.containerStatuses?.find((c) => c.name === 'step')?.state?.running);

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-k8s-e2e-'));
  fake = await startFakeKube({
    namespaces: [NS],
    nodes: [
      { name: 'linux-1', labels: { pool: 'linux' } },
      {
        name: 'win-1',
        labels: { 'kubernetes.io/os': 'windows', 'node.kubernetes.io/windows-build': '10.0.20348' },
        taints: [{ key: 'os', value: 'windows', effect: 'NoSchedule' }],
      },
    ],
    rbac: DOCUMENTED_RBAC.map((r) => ({
      verbs: [...r.verbs],
      resources: [...r.resources],
      namespaces: [NS],
    })),
    timing: { imagePullBackoffMs: 100 },
    // Small, so that a step's log rotates as a chatty one's does at the kubelet's 10 MiB.
    logRotateBytes: 4096,
  });
  kubeconfig = path.join(dir, 'kubeconfig');
  await writeFile(kubeconfig, fake.kubeconfigYaml());
  hub = await startTestHub();
  agent = await startTestAgent(hub, { name: 'k8s-agent', pools: pools(), log: agentLog.log });
  await agent.welcomed;
});

afterAll(async () => {
  await agent.stop();
  await hub.close();
  await fake.close();
  await rm(dir, { recursive: true, force: true });
});

describe('kubernetes executor, end to end', () => {
  it('runs one build across a linux pool and a windows pool, passing an output between them', async () => {
    const seen: V1Pod[] = [];
    const timer = setInterval(() => {
      for (const p of fake.pods(NS) as V1Pod[])
        if (!seen.some((s) => s.metadata?.name === p.metadata?.name)) seen.push(p);
    }, 20);
    const events = await run(
      'cross',
      job(
        'job',
        task('build', 'echo linux-made > out/file; echo built on linux', {
          extra: '      outputs: [{ name: out }]\n',
        }) +
          task('use', 'cat out/file; echo used on windows', {
            platform: 'windows',
            extra: '      inputs: [{ name: out }]\n',
          }),
      ),
    );
    clearInterval(timer);
    expect(errorOf(events)).toBeUndefined();
    expect(finalStatus(events)).toBe('succeeded');
    expect(logText(events)).toBe('built on linux\nlinux-made\nused on windows\n');
    const workers = events.filter((e) => e.event === 'selected-worker').map((e) => e.data.pool);
    expect(workers).toEqual(['linux', 'windows']);

    const [linux, windows] = seen;
    expect(linux?.spec?.nodeSelector).toEqual({ pool: 'linux', 'kubernetes.io/os': 'linux' });
    expect(linux?.spec?.containers.map((c) => c.name)).toEqual(['step', 'outputs']);
    expect(linux?.spec?.containers[0]?.resources).toEqual({
      requests: { cpu: '100m', memory: '64Mi' },
      limits: { cpu: '100m', memory: '64Mi' },
    });
    expect(windows?.spec?.os?.name).toBe('windows');
    expect(windows?.spec?.nodeSelector).toEqual({
      'kubernetes.io/os': 'windows',
      'node.kubernetes.io/windows-build': '10.0.20348',
    });
    expect(windows?.spec?.tolerations).toContainEqual({
      key: 'os',
      operator: 'Equal',
      value: 'windows',
      effect: 'NoSchedule',
    });
    expect(windows?.spec?.initContainers?.[0]?.image).toBe('mcr.microsoft.com/windows/nanoserver:ltsc2022');
    expect(windows?.spec?.nodeName).toBe('win-1');
    // Done steps leave nothing behind.
    await until('pods deleted', () => (fake.pods(NS).length === 0 ? true : undefined));
    expect(fake.secrets(NS)).toEqual([]);
  });

  it("the hub shows each kubernetes pool's admission check (a dry-run create at agent start)", async () => {
    const { body } = await hub.api<AgentSummary[]>('GET', '/agents');
    const pools = body.find((a) => a.name.endsWith('k8s-agent'))?.pools ?? [];
    expect(pools.find((p) => p.name === 'linux')?.admission).toEqual({ verdict: 'admitted', message: '' });
    expect(pools.find((p) => p.name === 'local')?.admission).toBeNull();
  });

  it('a process pool of the same agent still runs host steps', async () => {
    const events = await run('host', job('job', task('t', 'echo on the host', { tags: 'host' })));
    expect(finalStatus(events)).toBe('succeeded');
    expect(logText(events)).toBe('on the host\n');
  });

  describe('says in words why a step did not run', () => {
    it('unschedulable waits for a node until the pending timeout, then says the scheduler message', async () => {
      const started = Date.now();
      const events = await run('unsched', job('job', task('t', 'true', { tags: 'nowhere' })));
      expect(finalStatus(events)).toBe('errored');
      expect(errorOf(events)).toMatch(
        /^the pod did not start within 2s \(pending timeout\): unschedulable: 0\/2 nodes are available: .*didn't match Pod's node affinity\/selector/,
      );
      // Not at once: an autoscaler may still add a node (agent/executors/kubernetes/executor.test.ts).
      expect(Date.now() - started).toBeGreaterThanOrEqual(2_000);
    });

    it('image pull failure, after the grace', async () => {
      fake.failImagePull(
        MISSING_IMAGE,
        'rpc error: code = NotFound desc = failed to pull and unpack image: not found',
      );
      const events = await run('pull', job('job', task('t', 'true', { tags: 'pullfail' })));
      expect(finalStatus(events)).toBe('errored');
      expect(errorOf(events)).toMatch(new RegExp(`^image pull failed: ${MISSING_IMAGE}: .*not found`));
    });

    it('CreateContainerConfigError', async () => {
      const events = await run('config', job('job', task('t', 'true', { tags: 'badconfig' })));
      expect(finalStatus(events)).toBe('errored');
      expect(errorOf(events)).toMatch(/CreateContainerConfigError: .*secret "no-such-secret" not found/);
    });

    it('OOMKilled is the step failing', async () => {
      await setPipeline(hub, 'oom', job('job', task('t', 'echo allocating; sleep 30')));
      const build = await triggerJob(hub, 'oom', 'job');
      const pod = await until('a running pod', podNamed(running));
      // Running is not yet printing: kill only once the line is in the build log.
      await waitForEvents(hub, build, 'allocating');
      fake.oomKill(pod.metadata.name, { namespace: NS, container: 'step' });
      const events = await readBuildEvents(hub, build);
      expect(finalStatus(events)).toBe('failed');
      expect(errorOf(events)).toMatch(/OOM-killed/);
      expect(logText(events)).toBe('allocating\n');
    });

    it('Evicted is errored', async () => {
      await setPipeline(hub, 'evict', job('job', task('t', 'sleep 30')));
      const build = await triggerJob(hub, 'evict', 'job');
      const pod = await until('a running pod', podNamed(running));
      await fake.evict(pod.metadata.name, 'The node was low on resource: memory.', { namespace: NS });
      const events = await readBuildEvents(hub, build);
      expect(finalStatus(events)).toBe('errored');
      expect(errorOf(events)).toBe('pod evicted: The node was low on resource: memory.');
    });

    it('deadline exceeded is the step failing with "timeout exceeded"', async () => {
      // activeDeadlineSeconds counts from the pod's start, scheduling and inputs included: whether the
      // step printed its line within those 3 s depends on the machine; it fails the same way either way.
      const events = await run(
        'deadline',
        job(
          'job',
          task('t', 'echo started; sleep 30').replace('  - task: t\n', '  - task: t\n    timeout: 3s\n'),
        ),
      );
      expect(finalStatus(events)).toBe('failed');
      expect(errorOf(events)).toBe('timeout exceeded');
      expect(['', 'started\n']).toContain(logText(events));
    });

    it('a pod deleted by someone else is errored, never success', async () => {
      await setPipeline(hub, 'vanish', job('job', task('t', 'sleep 30')));
      const build = await triggerJob(hub, 'vanish', 'job');
      const pod = await until('a running pod', podNamed(running));
      fake.deletePodAsSomeoneElse(NS, pod.metadata.name, 0);
      const events = await readBuildEvents(hub, build);
      expect(finalStatus(events)).toBe('errored');
      expect(errorOf(events)).toBe('the pod was deleted by someone else before the step ended');
    });

    it('a pod pending past the pool timeout is errored with the last reason', async () => {
      fake.failImagePull(MISSING_IMAGE, 'not found');
      const events = await run('stuck', job('job', task('t', 'true', { tags: 'stuck' })));
      expect(finalStatus(events)).toBe('errored');
      // The reason the agent had when the 2 s ran out: on most machines the image pull's failure, on a
      // loaded one maybe an earlier one (the pod not even seen yet: "waiting for the API server"). Any of
      // those it logged for the pod, never something else.
      const prefix = 'the pod did not start within 2s (pending timeout): ';
      const error = errorOf(events) ?? '';
      expect(error.startsWith(prefix), error).toBe(true);
      const reasons = agentLog.lines
        .filter((l) => l.msg === 'step pending' && l.pool === 'stuck')
        .map((l) => l.reason as string);
      expect(['waiting for the API server', ...reasons]).toContain(error.slice(prefix.length));
    });
  });

  describe('a kubernetes var source: secrets that never leave the cluster', () => {
    const PASSWORD = 'pg-in-cluster-s3cret';
    const source = 'var_sources:\n- name: cluster-secrets\n  type: kubernetes\n  config: {}\n';
    const step = (ref: string, tags?: string) =>
      task('itest', 'echo "host $PGHOST, password of length ${#PGPASSWORD}"', {
        ...(tags ? { tags } : {}),
        extra: `      params: { PGHOST: postgres.db.svc.cluster.local, PGPASSWORD: ((${ref})) }\n`,
      });
    const core = () => fake.kubeConfig().makeApiClient(CoreV1Api);

    beforeAll(async () => {
      await core().createNamespacedSecret({
        namespace: NS,
        body: {
          metadata: { name: 'db-credentials' },
          type: 'Opaque',
          data: { password: Buffer.from(PASSWORD).toString('base64') },
        },
      });
    });

    afterAll(async () => {
      // Later tests expect a namespace holding only what outpost creates.
      await core().deleteNamespacedSecret({ namespace: NS, name: 'db-credentials' });
    });

    it("reaches the step's env through secretKeyRef; the hub sees only the reference", async () => {
      const seen: V1Pod[] = [];
      const timer = setInterval(() => seen.push(...(fake.pods(NS) as V1Pod[])), 20);
      await setPipeline(
        hub,
        'secret-env',
        source + job('job', step('cluster-secrets:db-credentials.password')),
      );
      const build = await triggerJob(hub, 'secret-env', 'job');
      const events = await readBuildEvents(hub, build);
      clearInterval(timer);
      expect(errorOf(events)).toBeUndefined();
      expect(finalStatus(events)).toBe('succeeded');
      expect(logText(events)).toBe(
        `host postgres.db.svc.cluster.local, password of length ${PASSWORD.length}\n`,
      );
      expect(seen[0]?.spec?.containers[0]?.env).toContainEqual({
        name: 'PGPASSWORD',
        valueFrom: { secretKeyRef: { name: 'db-credentials', key: 'password' } },
      });
      // Neither the stored step run nor any build event holds the value.
      const runs = await hub.store.listStepRuns(build);
      expect(JSON.stringify(runs)).toContain('db-credentials');
      expect(JSON.stringify(runs)).not.toContain(PASSWORD);
      expect(JSON.stringify(events)).not.toContain(PASSWORD);
    });

    it('a missing key or Secret errors the step with its name', async () => {
      const noKey = await run(
        'secret-nokey',
        source + job('job', step('cluster-secrets:db-credentials.nope')),
      );
      expect(finalStatus(noKey)).toBe('errored');
      expect(errorOf(noKey)).toMatch(
        /CreateContainerConfigError: couldn't find key nope in Secret ci\/db-credentials/,
      );
      const noSecret = await run(
        'secret-absent',
        source + job('job', step('cluster-secrets:absent-secret.password')),
      );
      expect(finalStatus(noSecret)).toBe('errored');
      expect(errorOf(noSecret)).toMatch(/CreateContainerConfigError: secret "absent-secret" not found/);
    });

    it("a Secret not in the pool's readable_secrets errors the step before any pod exists", async () => {
      const before = fake
        .permissionsUsed()
        .filter((p) => p.verb === 'create' && p.resource === 'pods').length;
      const events = await run(
        'secret-other',
        source + job('job', step('cluster-secrets:other-secret.password')),
      );
      expect(finalStatus(events)).toBe('errored');
      expect(errorOf(events)).toBe(
        'env PGPASSWORD: secret "other-secret" (var source "cluster-secrets") is not readable by pool "linux"; ' +
          'the agent config lists the ones it may read in kubernetes.readable_secrets',
      );
      const after = fake.permissionsUsed().filter((p) => p.verb === 'create' && p.resource === 'pods').length;
      expect(after).toBe(before);
    });

    it('a process pool errors the step: it has no cluster to read from', async () => {
      const events = await run(
        'secret-host',
        source + job('job', step('cluster-secrets:db-credentials.password', 'host')),
      );
      expect(finalStatus(events)).toBe('errored');
      expect(errorOf(events)).toBe('var source "cluster-secrets" (kubernetes) needs a kubernetes pool');
    });
  });

  it('abort deletes a Pending pod promptly', async () => {
    fake.failImagePull(MISSING_IMAGE, 'not found');
    await setPipeline(hub, 'abort', job('job', task('t', 'true', { tags: 'stuck' })));
    const build = await triggerJob(hub, 'abort', 'job');
    await until(
      'a pending pod',
      podNamed(() => true),
    );
    const started = Date.now();
    expect((await hub.api('PUT', `/builds/${build}/abort`)).status).toBe(204);
    const events = await readBuildEvents(hub, build);
    expect(finalStatus(events)).toBe('aborted');
    await until('the pod deleted', () => (fake.pods(NS).length === 0 ? true : undefined));
    // A graceful delete (never a force delete): at least 1 s of grace, then gone.
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('an agent restart mid-step, after the kubelet rotated the log: the step continues, every line once', async () => {
    await setPipeline(
      hub,
      'restart',
      job(
        'job',
        task(
          't',
          // Lines 41-160 rotate the first 4 KiB file away; then the step waits for the test's go.
          `for i in $(seq 1 40); do echo line $i; done; sleep 1; for i in $(seq 41 160); do echo line $i; done; ${untilGo(fake.isolation, '/workspace')}; for i in $(seq 161 200); do echo line $i; done`,
        ),
      ),
    );
    const build = await triggerJob(hub, 'restart', 'job');
    const stream = await openEventStream(hub, build);
    await stream.until('line 160');
    await stream.cancel();
    // The hub stored line 160 (one chunk per line) and the agent said so on the pod; the log's
    // beginning is gone by now (4 KiB files), so only that annotation tells where to go on.
    await until('the stored position on the pod', () => {
      const mark = restartPod().metadata.annotations?.['outpost.dev/log-stored'];
      return mark && Number(mark.split(' ')[0]) >= 160 ? true : undefined;
    });
    await agent.stop();
    agent = await startTestAgent(hub, { name: 'k8s-agent', pools: pools() });
    await agent.welcomed;
    await go(fake.kubeConfig(), fake.isolation, {
      namespace: NS,
      pod: restartPod().metadata.name,
      container: 'step',
      dir: '/workspace',
    });
    const events = await readBuildEvents(hub, build);
    expect(finalStatus(events)).toBe('succeeded');
    expect(logText(events)).toBe(Array.from({ length: 200 }, (_, i) => `line ${i + 1}\n`).join(''));
  });

  it('the sweeper deletes pods and secrets no lease owns', async () => {
    const core = fake.kubeConfig().makeApiClient(CoreV1Api);
    const labels = {
      'app.kubernetes.io/managed-by': 'outpost',
      'outpost.dev/agent': 'k8s-agent',
      'outpost.dev/pool': 'linux',
      'outpost.dev/lease': 'orphan-lease',
    };
    await core.createNamespacedSecret({
      namespace: NS,
      body: { metadata: { name: 'orphan-step', labels }, type: 'Opaque', data: {} },
    });
    await core.createNamespacedPod({
      namespace: NS,
      body: {
        metadata: { name: 'orphan', labels, annotations: { 'outpost.dev/lease': 'orphan-lease' } },
        spec: {
          restartPolicy: 'Never',
          containers: [{ name: 'step', image: 'busybox:1.37', command: ['sleep', '30'] }],
        },
      },
    });
    await agent.stop();
    agent = await startTestAgent(hub, { name: 'k8s-agent', pools: pools() });
    await agent.welcomed;
    await until('the orphans swept', () =>
      fake.pods(NS).length === 0 && fake.secrets(NS).length === 0 ? true : undefined,
    );
  });

  it('needs exactly the documented RBAC rules', async () => {
    // What the builds above did not touch (reattach, sweeping, a step's own Secret), done directly.
    const config = parseAgentConfig(`hub: { address: "127.0.0.1:1" }\ntoken_file: t\npools:\n${pools()}`, {
      file: path.join(dir, 'agent.yaml'),
      env: {},
      hostname: 'h',
      cpus: 1,
      platform: 'linux',
      tmpdir: dir,
    });
    const executor = new KubernetesExecutor({
      settings: config.pools[0]!.kubernetes!,
      agent: 'rbac-agent',
      workRoot: path.join(dir, 'rbac'),
    });
    const step = await executor.start({
      leaseId: 'rbac-lease',
      run: { path: 'sh', args: ['-c', 'echo secret-value'], dir: '', user: '' },
      env: {},
      inputs: [],
      outputs: [],
      timeoutMs: 0,
      privileged: false,
      image: { repository: 'busybox', digest: `sha256:${'a'.repeat(64)}`, username: 'u', password: 'p' },
      redact: ['secret-value'],
    });
    expect(await executor.listHeld()).toEqual(['rbac-lease']);
    const again = await executor.reattach('rbac-lease');
    expect(again?.redact).toEqual(['secret-value']);
    await executor.sweep(new Set(['rbac-lease']));
    for await (const _ of step.logs());
    await step.wait();
    await step.cleanup();
    await again?.cleanup();
    await executor.sweep(new Set());

    const used = new Set(fake.permissionsUsed().map((p) => `${p.verb} ${p.resource} ${p.namespace ?? ''}`));
    const documented = new Set(
      DOCUMENTED_RBAC.flatMap((r) => r.resources.flatMap((res) => r.verbs.map((v) => `${v} ${res} ${NS}`))),
    );
    expect([...used].sort()).toEqual([...documented].sort());
  });
});
