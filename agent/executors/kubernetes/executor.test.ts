// The executor against the fake API server, without hub or agent: one behaviour per test.
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pack } from '../../artifacts/archive.js';
import { startFakeKube, type FakeKube } from '../../../test/support/fake-k8s/index.js';
import type { ExecStep, RunningStep } from '../executor.js';
import { KubernetesExecutor } from './executor.js';
import type { KubernetesPoolSettings } from './settings.js';

const NS = 'ci';
let fake: FakeKube;
let dir: string;

export function settingsFor(over: Partial<KubernetesPoolSettings> = {}): KubernetesPoolSettings {
  return {
    pool: 'linux',
    platform: 'linux',
    namespace: NS,
    kubeconfig: undefined,
    context: undefined,
    nodeSelector: {},
    arch: undefined,
    windowsBuild: undefined,
    tolerations: [],
    windowsToleration: undefined,
    affinity: undefined,
    serviceAccount: undefined,
    runtimeClass: undefined,
    imagePullSecrets: [],
    readableSecrets: [],
    priorityClass: undefined,
    resources: { defaults: {}, ceilings: {} },
    podPatch: undefined,
    allowPrivileged: false,
    helperImage: 'busybox:1.37',
    defaultImage: 'busybox:1.37',
    helperShell: 'posix',
    workspace: '/workspace',
    runAsUser: undefined,
    runAsGroup: undefined,
    pendingTimeoutSeconds: 30,
    imagePullGraceSeconds: 1,
    ...over,
  };
}

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
    const src = path.join(dir, 'src');
    await mkdir(src, { recursive: true });
    await writeFile(path.join(src, 'a.txt'), 'from input\n');
    const archive = await pack(src, path.join(dir, 'src.tar'), 1e9);
    const ex = executor();
    const step = await ex.start(
      stepOf({
        run: {
          path: 'sh',
          args: ['-c', 'cat ../src/a.txt; echo made > ../out/b.txt; pwd'],
          dir: 'work',
          user: '',
        },
        inputs: [{ name: 'src', path: 'src', archive: archive.file }],
        outputs: [{ name: 'out', path: 'out' }],
      }),
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
    expect(fake.pods(NS)).toEqual([]);
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
    expect(fake.pods(NS)).toEqual([]);
  });
});
