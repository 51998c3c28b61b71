// The executor against the fake API server, without hub or agent: one behaviour per test.
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pack, unpack } from '../../artifacts/archive.js';
import { startFakeKube, type FakeKube } from '../../../test/support/fake-k8s/index.js';
import type { ExecStep, RunningStep } from '../executor.js';
import { KubernetesExecutor } from './executor.js';
import type { KubernetesPoolSettings } from './settings.js';
import { NS, settingsFor } from './settings.test-fixtures.js';

let fake: FakeKube;
let dir: string;

function stepOf(over: Partial<ExecStep> = {}): ExecStep {
  return {
    leaseId: `lease-${Math.random().toString(36).slice(2, 10)}`,
    run: { path: 'sh', args: ['-c', 'echo hello; echo world >&2'], dir: '', user: '' },
    env: {},
    inputs: [],
    outputs: [],
    timeoutMs: 0,
    privileged: false,
    ...over,
  };
}

/** Deletes are graceful (SIGTERM, then the pod goes): waits until the namespace holds no pod. */
async function noPodsLeft(f: FakeKube): Promise<void> {
  for (const end = Date.now() + 15_000; f.pods(NS).length > 0;) {
    if (Date.now() > end)
      throw new Error(
        `pods left: ${f
          .pods(NS)
          .map((p) => p.metadata.name)
          .join(', ')}`,
      );
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A step with input `src` (one file, `file` holding `text`) and output `out`, running `script` in `runDir`. */
async function withSrcInput(
  name: string,
  file: string,
  text: string,
  script: string,
  runDir = '',
): Promise<ExecStep> {
  const src = path.join(dir, name);
  await mkdir(src, { recursive: true });
  await writeFile(path.join(src, file), text);
  const archive = await pack(src, path.join(dir, `${name}.tar`), 1e9);
  return stepOf({
    run: { path: 'sh', args: ['-c', script], dir: runDir, user: '' },
    inputs: [{ name: 'src', path: 'src', archive: archive.file }],
    outputs: [{ name: 'out', path: 'out' }],
  });
}

async function drain(step: RunningStep): Promise<string> {
  let text = '';
  for await (const piece of step.logs()) text += piece.data.toString();
  return text;
}

beforeAll(async () => {
  fake = await startFakeKube({
    namespaces: [NS],
    nodes: [{ name: 'l' }, { name: 'w', labels: { 'kubernetes.io/os': 'windows' } }],
  });
  dir = await mkdtemp(path.join(os.tmpdir(), 'kexec-'));
});
afterAll(async () => {
  await fake.close();
  await rm(dir, { recursive: true, force: true });
});

function executor(over: Partial<KubernetesPoolSettings> = {}): KubernetesExecutor {
  return new KubernetesExecutor({
    settings: settingsFor(over),
    agent: 'agent-1',
    workRoot: path.join(dir, 'work'),
    kubeConfig: fake.kubeConfig(),
  });
}

describe('KubernetesExecutor', () => {
  it('runs a step with inputs and outputs', async () => {
    const ex = executor();
    const step = await ex.start(
      await withSrcInput(
        'src',
        'a.txt',
        'from input\n',
        'cat ../src/a.txt; echo made > ../out/b.txt; pwd',
        'work',
      ),
    );
    const log = await drain(step);
    const result = await step.wait();
    expect(result).toEqual({ status: 'succeeded', exitStatus: 0, error: undefined });
    expect(log).toBe('from input\n/workspace/work\n');
    const outDir = path.join(dir, 'outs');
    await mkdir(outDir, { recursive: true });
    const outs = await step.collectOutputs(outDir, 1e9);
    expect(outs.map((o) => o.name)).toEqual(['out']);
    const check = path.join(dir, 'check');
    const { unpack } = await import('../../artifacts/archive.js');
    await unpack(outs[0]!.archive.file, check);
    expect(await readFile(path.join(check, 'b.txt'), 'utf8')).toBe('made\n');
    await step.cleanup();
    await noPodsLeft(fake);
  });
});

describe('after an agent restart', () => {
  it('a new executor lists the step, reattaches and replays its log in the same pieces', async () => {
    const first = executor();
    const step = await first.start(
      stepOf({
        run: {
          path: 'sh',
          args: ['-c', 'for i in $(seq 1 20); do echo line $i; sleep 0.02; done'],
          dir: '',
          user: '',
        },
      }),
    );
    const seen: string[] = [];
    for await (const piece of step.logs()) {
      seen.push(piece.data.toString());
      if (seen.length === 5) break;
    }
    const second = executor();
    expect(await second.listHeld()).toEqual([step.leaseId]);
    const again = await second.reattach(step.leaseId);
    const replay: string[] = [];
    for await (const piece of again!.logs()) replay.push(piece.data.toString());
    expect(await again!.wait()).toEqual({ status: 'succeeded', exitStatus: 0, error: undefined });
    expect(replay.slice(0, 5)).toEqual(seen);
    expect(replay.join('')).toBe(Array.from({ length: 20 }, (_, i) => `line ${i + 1}\n`).join(''));
    await again!.cleanup();
    await step.cleanup();
    expect(await second.reattach(step.leaseId)).toBeUndefined();
  });

  it('the sweeper deletes what no kept lease owns, and only this agent pool', async () => {
    const ex = executor();
    const kept = await ex.start(
      stepOf({ run: { path: 'sleep', args: ['30'], dir: '', user: '' }, redact: ['x'] }),
    );
    const orphan = await ex.start(
      stepOf({ run: { path: 'sleep', args: ['30'], dir: '', user: '' }, redact: ['y'] }),
    );
    const other = new KubernetesExecutor({
      settings: settingsFor(),
      agent: 'agent-2',
      workRoot: path.join(dir, 'work2'),
      kubeConfig: fake.kubeConfig(),
    });
    const foreign = await other.start(stepOf({ run: { path: 'sleep', args: ['30'], dir: '', user: '' } }));
    expect(fake.secrets(NS)).toHaveLength(2);
    const logs = [kept, orphan, foreign].map(drain);
    // Swept once running: the fake's attach does not survive a pod deleted mid-transfer (EPIPE).
    while (fake.pods(NS).filter((p) => JSON.stringify(p.status ?? {}).includes('"running"')).length < 3)
      await new Promise((r) => setTimeout(r, 20));
    await ex.sweep(new Set([kept.leaseId]));
    const leases = () =>
      fake
        .pods(NS)
        .map((p) => p.metadata.annotations?.['outpost.dev/lease'])
        .sort();
    expect(leases()).toEqual([kept.leaseId, foreign.leaseId].sort());
    expect(fake.secrets(NS)).toHaveLength(1);
    expect((await orphan.wait()).status).toBe('errored');
    for (const s of [kept, orphan, foreign]) {
      await s.abort(0, 'test');
      await s.cleanup();
    }
    await Promise.all(logs);
  });

  it('abort of a running step ends it aborted and deletes the pod', async () => {
    const ex = executor();
    const step = await ex.start(
      stepOf({ run: { path: 'sh', args: ['-c', 'echo up; sleep 30'], dir: '', user: '' } }),
    );
    const logs = drain(step);
    while (!fake.pods(NS).some((p) => p.status && JSON.stringify(p.status).includes('"running"')))
      await new Promise((r) => setTimeout(r, 20));
    await step.abort(0, 'test');
    expect(await step.wait()).toMatchObject({ status: 'aborted' });
    await logs;
    await step.cleanup();
    await noPodsLeft(fake);
  });

  it("the step's Secret is owned by its pod and goes when someone else deletes the pod", async () => {
    const ex = executor();
    const step = await ex.start(
      stepOf({ run: { path: 'sleep', args: ['30'], dir: '', user: '' }, redact: ['only-mine'] }),
    );
    const logs = drain(step);
    while (!fake.pods(NS).some((p) => p.status && JSON.stringify(p.status).includes('"running"')))
      await new Promise((r) => setTimeout(r, 20));
    const [pod] = fake.pods(NS);
    const owners = () => fake.secrets(NS).map((s) => s.metadata.ownerReferences);
    while (owners().every((o) => o === undefined)) await new Promise((r) => setTimeout(r, 20));
    expect(owners()).toEqual([
      [{ apiVersion: 'v1', kind: 'Pod', name: pod?.metadata.name, uid: pod?.metadata.uid }],
    ]);
    await fake
      .kubeConfig()
      .makeApiClient(CoreV1Api)
      .deleteNamespacedPod({ namespace: NS, name: pod!.metadata.name, gracePeriodSeconds: 1 });
    expect((await step.wait()).status).toBe('errored');
    await logs;
    while (fake.pods(NS).length > 0) await new Promise((r) => setTimeout(r, 20));
    expect(fake.secrets(NS)).toEqual([]);
    await step.cleanup();
  });
});

describe('a pod waiting for a node', () => {
  it('Unschedulable is a pending reason, shown live, until an autoscaled node runs the step', async () => {
    const scaling = await startFakeKube({
      namespaces: [NS],
      nodes: [{ name: 'other', labels: { pool: 'other' } }],
      autoscaler: { nodes: [{ name: 'scaled', labels: { pool: 'ci' } }], delayMs: 1_500 },
    });
    const seen: { msg: string; obj: Record<string, unknown> }[] = [];
    const record = (obj: object, msg: string) => seen.push({ msg, obj: obj as Record<string, unknown> });
    try {
      const ex = new KubernetesExecutor({
        settings: settingsFor({ nodeSelector: { pool: 'ci' }, pendingTimeoutSeconds: 30 }),
        agent: 'agent-1',
        workRoot: path.join(dir, 'work-scaling'),
        kubeConfig: scaling.kubeConfig(),
        log: { info: record, warn: record },
      });
      const step = await ex.start(
        stepOf({ run: { path: 'sh', args: ['-c', 'echo on the new node'], dir: '', user: '' } }),
      );
      expect(await drain(step)).toBe('on the new node\n');
      expect(await step.wait()).toEqual({ status: 'succeeded', exitStatus: 0, error: undefined });
      await step.cleanup();
      const pending = seen.filter((e) => e.msg === 'step pending').map((e) => e.obj);
      expect(pending).toContainEqual(
        expect.objectContaining({
          phase: 'scheduling',
          reason: expect.stringMatching(
            /^unschedulable: 0\/1 nodes are available: 1 node\(s\) didn't match Pod's node affinity\/selector/,
          ) as unknown,
        }),
      );
      expect(pending.map((p) => p.phase)).toEqual(expect.arrayContaining(['scheduling', 'input-transfer']));
      const started = seen.find((e) => e.msg === 'step started')?.obj;
      expect(started?.schedulingMs).toBeGreaterThanOrEqual(1_400);
      expect(started).toHaveProperty('imagePullMs');
      expect(started).toHaveProperty('inputTransferMs');
    } finally {
      await scaling.close();
    }
  });

  it('only the pending timeout ends it, with the scheduler message as the reason', async () => {
    const started = Date.now();
    const step = await executor({ nodeSelector: { pool: 'none' }, pendingTimeoutSeconds: 2 }).start(stepOf());
    expect(await drain(step)).toBe('');
    const result = await step.wait();
    expect(result.status).toBe('errored');
    expect(result.error).toMatch(
      /^the pod did not start within 2s \(pending timeout\): unschedulable: 0\/2 nodes are available: /,
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_000);
    await step.cleanup();
    expect(fake.pods(NS)).toEqual([]);
  });
});

describe('admission', () => {
  let strict: FakeKube;
  beforeAll(async () => {
    strict = await startFakeKube({
      namespaces: [NS],
      namespaceLabels: { [NS]: { 'pod-security.kubernetes.io/enforce': 'restricted' } },
      resourceQuotas: [
        {
          namespace: NS,
          name: 'compute',
          hard: { 'requests.cpu': '8', 'limits.cpu': '8', 'limits.memory': '16Gi' },
        },
      ],
    });
  });
  afterAll(async () => {
    await strict.close();
  });

  const strictExecutor = (over: Partial<KubernetesPoolSettings>, log?: (msg: string, obj: object) => void) =>
    new KubernetesExecutor({
      settings: settingsFor(over),
      agent: 'agent-1',
      workRoot: path.join(dir, 'work-strict'),
      kubeConfig: strict.kubeConfig(),
      log: { info: (o, m) => log?.(m, o), warn: (o, m) => log?.(m, o) },
    });

  it('by default a step pod passes Pod Security "restricted" and a ResourceQuota, helpers included', async () => {
    const seen: string[] = [];
    const ex = strictExecutor(
      { resources: { defaults: { cpu: '100m', memory: '64Mi' }, ceilings: {} } },
      (m) => seen.push(m),
    );
    expect(await ex.admission).toEqual({ verdict: 'admitted', message: '' });
    expect(seen).toContain("admission accepts the pool's pods (dry run)");
    const step = await ex.start(
      await withSrcInput(
        'strict-src',
        'in.txt',
        'input\n',
        'cat src/in.txt; echo more >> src/in.txt; echo done > out/o.txt',
      ),
    );
    expect(await drain(step)).toBe('input\n');
    expect(await step.wait()).toEqual({ status: 'succeeded', exitStatus: 0, error: undefined });
    await step.cleanup();
    // The step's pod goes (gracefully); the dry run never stored one.
    await noPodsLeft(strict);
  });

  it("at pool start, a dry run reports what admission rejects, in the API server's words", async () => {
    const warned: { msg: string; obj: object }[] = [];
    // No CPU for the step (the pool sets no defaults), and a pod_patch that asks for root.
    const ex = strictExecutor(
      { podPatch: { spec: { securityContext: { runAsNonRoot: false } } } },
      (msg, obj) => warned.push({ msg, obj }),
    );
    const { verdict, message: rejected } = await ex.admission;
    expect(verdict).toBe('refused');
    expect(rejected).toMatch(
      /^pods "outpost-admission-probe" is forbidden: violates PodSecurity "restricted:latest": runAsNonRoot != true/,
    );
    expect(warned).toContainEqual({
      msg: "admission rejects the pool's pods (dry run)",
      obj: expect.objectContaining({ message: rejected }) as object,
    });
    const quota = await strictExecutor({}).admission;
    expect(quota).toEqual({
      verdict: 'refused',
      message:
        'pods "outpost-admission-probe" is forbidden: failed quota: compute: must specify limits.cpu for: step; limits.memory for: step; requests.cpu for: step',
    });
    expect(strict.pods(NS)).toEqual([]);
  });
});

describe('non-root steps (the fake runs containers as their securityContext says)', () => {
  const script =
    'id -u; echo more >> ../src/a.txt && mkdir ../src/new && echo made > ../out/b.txt && cat ../src/a.txt';

  async function runAndCollect(ex: KubernetesExecutor): Promise<{ log: string; made: string }> {
    const step = await ex.start(await withSrcInput(`nr-${Math.random()}`, 'a.txt', 'in\n', script, 'work'));
    const log = await drain(step);
    expect(await step.wait()).toEqual({ status: 'succeeded', exitStatus: 0, error: undefined });
    const outDir = await mkdtemp(path.join(dir, 'outs-'));
    const [out] = await step.collectOutputs(outDir, 1e9);
    const check = path.join(outDir, 'check');
    await unpack(out!.archive.file, check);
    await step.cleanup();
    return { log, made: await readFile(path.join(check, 'b.txt'), 'utf8') };
  }

  it('the step runs as uid 65532 by default and writes into its inputs and outputs', async (ctx) => {
    if (fake.isolation !== 'chroot') {
      console.log('skipped: the fake applies runAsUser only with chroot isolation (root)');
      ctx.skip();
    }
    expect(await runAndCollect(executor())).toEqual({ log: '65532\nin\nmore\n', made: 'made\n' });
  });

  it('a step container of another uid than the helpers writes them too, through the fsGroup', async (ctx) => {
    if (fake.isolation !== 'chroot') {
      console.log('skipped: the fake applies runAsUser only with chroot isolation (root)');
      ctx.skip();
    }
    const ex = executor({
      podPatch: { spec: { containers: [{ name: 'step', securityContext: { runAsUser: 1000 } }] } },
    });
    expect(await runAndCollect(ex)).toEqual({ log: '1000\nin\nmore\n', made: 'made\n' });
  });
});

describe('an API server that is busy or restarting', () => {
  it('429 (Retry-After), 5xx and resets are retried; a create whose answer was lost counts as created', async () => {
    const ex = executor();
    fake.injectFault({ kind: 429, count: 1, verb: 'create', resource: 'pods', retryAfterSeconds: 1 });
    fake.injectFault({ kind: 503, count: 2, verb: 'list', resource: 'pods' });
    // The pod is stored, the answer never arrives: the retry gets AlreadyExists.
    fake.injectFault({ kind: 'reset-after-commit', count: 1, verb: 'create', resource: 'pods' });
    fake.injectFault({ kind: 500, count: 1, verb: 'get', resource: 'pods' });
    fake.injectFault({ kind: 'reset', count: 1, verb: 'delete', resource: 'pods' });
    const before = fake.faultsServed();
    const started = Date.now();
    const step = await ex.start(stepOf({ outputs: [{ name: 'out', path: 'out' }] }));
    expect(await drain(step)).toBe('hello\nworld\n');
    expect(await step.wait()).toEqual({ status: 'succeeded', exitStatus: 0, error: undefined });
    const outs = path.join(dir, 'busy-outs');
    await mkdir(outs, { recursive: true });
    expect((await step.collectOutputs(outs, 1e9)).map((o) => o.name)).toEqual(['out']);
    await step.cleanup();
    await noPodsLeft(fake);
    expect(fake.faultsServed() - before).toBe(6);
    // Retry-After: 1 was honoured.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
  });

  it("a refusal in words (422 Invalid) errors the step with the API server's message", async () => {
    const step = await executor({ podPatch: { spec: { containers: [{ name: 'step', image: '' }] } } }).start(
      stepOf(),
    );
    const result = await step.wait();
    expect(result.status).toBe('errored');
    expect(result.error).toMatch(
      /^cannot create the step's pod: Pod "outpost-.*" is invalid: spec\.containers\[0\]\.image/,
    );
    await step.cleanup();
  });
});
