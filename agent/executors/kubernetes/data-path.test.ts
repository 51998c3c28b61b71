// The `agent` data path against the fake cluster, whose containers are local processes: the inputs
// helper really fetches from the agent's data endpoint on loopback and the outputs helper really
// pushes to it. A faulty proxy in front of the endpoint cuts or corrupts a transfer.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pack, unpack } from '../../artifacts/archive.js';
import type { FakeKube } from '../../../test/support/fake-k8s/index.js';
import { startFaultyProxy, type ProxyFault } from '../../../test/support/faulty-proxy.js';
import type { ExecStep, RunningStep } from '../executor.js';
import type { DataEndpoint } from './data-endpoint.js';
import { DATA_TOKEN_KEY } from './data-path.js';
import { startDataFixture, type DataFixture } from './data-path.test-fixtures.js';
import type { KubernetesExecutor } from './executor.js';
import { podNameFor } from './pod.js';
import { secretNameFor } from './secrets.js';
import { NS } from './settings.test-fixtures.js';

let fx: DataFixture;
let fake: FakeKube;
let endpoint: DataEndpoint;
let dir: string;

beforeAll(async () => {
  fx = await startDataFixture();
  ({ fake, endpoint, dir } = fx);
});
afterAll(() => fx.close());

const executor = (via?: DataEndpoint): KubernetesExecutor =>
  fx.executor('agent-data', { dataPath: 'agent' }, via);

/** A step whose input `src` holds `bytes` random bytes in big.bin, copying it to output `out`. */
async function copyStep(bytes: number, script = 'cp src/big.bin out/copy.bin'): Promise<ExecStep> {
  const name = `in-${Math.random().toString(36).slice(2, 8)}`;
  const src = path.join(dir, name);
  await mkdir(src, { recursive: true });
  await writeFile(path.join(src, 'big.bin'), Buffer.alloc(bytes, 7));
  const archive = await pack(src, path.join(dir, `${name}.tar`), 1e9);
  return {
    leaseId: `lease-${Math.random().toString(36).slice(2, 10)}`,
    run: { path: 'sh', args: ['-c', script], dir: '', user: '' },
    env: {},
    inputs: [{ name: 'src', path: 'src', archive: archive.file }],
    outputs: [{ name: 'out', path: 'out' }],
    timeoutMs: 0,
    privileged: false,
  };
}

async function finish(step: RunningStep): Promise<string> {
  let log = '';
  for await (const piece of step.logs()) log += piece.data.toString();
  await step.wait();
  return log;
}

/**
 * Runs a 1 MiB copy step on an endpoint whose advertised URL goes through a proxy with `fault`; then
 * `check` sees the ended step (cleaned up after).
 */
async function withFault(fault: ProxyFault, check: (step: RunningStep) => Promise<void>): Promise<void> {
  const port = Number(new URL(endpoint.url).port);
  const proxy = await startFaultyProxy({ host: '127.0.0.1', port }, fault);
  // A second endpoint object would be a second server: advertise the proxy for the same grants instead.
  const via = Object.create(endpoint, { url: { value: `http://${proxy.address}` } }) as DataEndpoint;
  try {
    const step = await executor(via).start(await copyStep(1024 * 1024));
    await finish(step);
    await check(step);
    await step.cleanup();
    expect(proxy.faulted()).toBeGreaterThan(0);
  } finally {
    await proxy.close();
  }
}

async function erroredWith(step: RunningStep): Promise<string> {
  const result = await step.wait();
  expect(result.status).toBe('errored');
  return result.error ?? '';
}

describe('data_path: agent', () => {
  it('inputs arrive and outputs come back over the endpoint, not through the API server', async () => {
    const ex = executor();
    const before = endpoint.requests;
    const step = await ex.start(
      await copyStep(8 * 1024 * 1024, 'cp src/big.bin out/copy.bin; wc -c < out/copy.bin'),
    );
    expect((await finish(step)).trim()).toBe(String(8 * 1024 * 1024));
    expect(await step.wait()).toEqual({ status: 'succeeded', exitStatus: 0, error: undefined });
    const outs = await step.collectOutputs(path.join(dir), 1e9);
    const check = path.join(dir, 'check-ok');
    await unpack(outs[0]!.archive.file, check);
    expect((await readFile(path.join(check, 'copy.bin'))).length).toBe(8 * 1024 * 1024);
    await step.cleanup();
    // One inputs GET, two 8 MiB pieces of the output (a tar is a little over 8 MiB) and its "done".
    expect(endpoint.requests - before).toBe(4);
    const used = fake.permissionsUsed().map((p) => p.resource);
    expect(used).not.toContain('pods/attach');
  });

  it('a cut inputs transfer errors the step with the reason', async () => {
    await withFault({ request: 'GET ', direction: 'response', cutAfterBytes: 100_000 }, async (step) =>
      expect(await erroredWith(step)).toMatch(
        /^inputs: the transfer was cut \(cut\): .*inputs: received \d+ of \d+ bytes/s,
      ),
    );
  });

  it('inputs that arrive with another sha256 error the step with the reason', async () => {
    await withFault({ request: 'GET ', direction: 'response', flipByteAt: 50_000 }, async (step) =>
      expect(await erroredWith(step)).toMatch(
        /^inputs: it arrived with a different sha256 \(digest\): .*received sha256 [0-9a-f]{64}, expected/s,
      ),
    );
  });

  it('a cut output upload errors the step with the output and the reason', async () => {
    await withFault({ request: 'POST ', direction: 'request', cutAfterBytes: 200_000 }, async (step) => {
      expect((await step.wait()).status).toBe('succeeded');
      await expect(step.collectOutputs(dir, 1e9)).rejects.toThrow(
        /^output "out": the transfer was cut \(cut\): /,
      );
    });
  });

  it('an output over the limit is refused by the endpoint', async () => {
    const step = await executor().start(await copyStep(1024 * 1024));
    await finish(step);
    await expect(step.collectOutputs(dir, 100_000)).rejects.toThrow(
      /^output "out": it is larger than the limit \(too-large\): larger than the limit of 200000 bytes/,
    );
    await step.cleanup();
  });

  it("refuses a wrong token, another step's token, and the step's own once the step is over", async () => {
    const ex = executor();
    const spec = await copyStep(1024, 'sleep 30');
    const other = await copyStep(1024, 'sleep 30');
    const step = await ex.start(spec);
    const second = await ex.start(other);
    const core = fake.kubeConfig().makeApiClient(CoreV1Api);
    const tokenOf = async (s: ExecStep) => {
      const secret = await core.readNamespacedSecret({ name: secretNameFor(podNameFor(s)), namespace: NS });
      return Buffer.from(secret.data?.[DATA_TOKEN_KEY] ?? '', 'base64').toString();
    };
    const get = (lease: string, token: string) =>
      fetch(`${endpoint.stepUrl(lease)}/inputs`, { headers: { authorization: `Bearer ${token}` } });
    const token = await tokenOf(spec);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await get(spec.leaseId, token)).status).toBe(200);
    const wrong = await get(spec.leaseId, `${token.slice(0, -1)}x`);
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toBe('the step token is not valid (wrong, or the step is over)\n');
    expect((await get(spec.leaseId, await tokenOf(other))).status).toBe(401);
    await step.abort(0, 'test');
    await step.cleanup();
    expect((await get(spec.leaseId, token)).status).toBe(401);
    await second.abort(0, 'test');
    await second.cleanup();
  });
});

describe('data_path: api', () => {
  const apiExecutor = (): KubernetesExecutor => fx.executor('agent-api', { dataPath: 'api' });

  it('a cut inputs attach errors the step with the reason, and the step never runs', async () => {
    fake.injectFault({ kind: 'cut', count: 1, verb: 'create', resource: 'pods/attach', afterBytes: 100_000 });
    const spec = await copyStep(1024 * 1024, 'echo the step ran; cp src/big.bin out/copy.bin');
    const step = await apiExecutor().start(spec);
    const log = await finish(step);
    const error = await erroredWith(step);
    console.log(`cut inputs: ${error}`);
    expect(error).toMatch(/^inputs: the transfer was cut \(cut\): /);
    expect(log).not.toContain('the step ran');
    const started = fake
      .events(NS)
      .filter(
        (e) =>
          (e.involvedObject as { name?: string; fieldPath?: string }).name === podNameFor(spec) &&
          (e as { reason?: string }).reason === 'Started',
      )
      .map((e) => (e.involvedObject as { fieldPath?: string }).fieldPath);
    // The helper started (and got part of the tar); the step's container never did.
    expect(started).toContain('spec.initContainers{inputs}');
    expect(started).not.toContain('spec.containers{step}');
    await step.cleanup();
  });

  it('a cut output exec errors the step naming the output and the reason', async () => {
    const step = await apiExecutor().start(await copyStep(1024 * 1024));
    await finish(step);
    expect((await step.wait()).status).toBe('succeeded');
    fake.injectFault({ kind: 'cut', count: 1, verb: 'create', resource: 'pods/exec', afterBytes: 100_000 });
    const err = await step.collectOutputs(dir, 1e9).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    console.log(`cut output: ${err?.message}`);
    expect(err?.message).toMatch(/^output "out": the transfer was cut \(cut\): /);
    await step.cleanup();
  });
});
