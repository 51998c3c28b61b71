// client-node's models are classes, but its API accepts plain JSON objects (it serializes them).
/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment */
import { Attach, Exec, type V1Pod, type V1Status } from '@kubernetes/client-node';
import { PassThrough, Writable } from 'node:stream';
import type WebSocket from 'isomorphic-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeKube, type FakeKube } from './index.js';
import { core, isPhase, waitForEvent, waitForPod } from './test-helpers.js';

const NS = 'ci';
let fake: FakeKube;

beforeAll(async () => {
  fake = await startFakeKube({ namespaces: [NS], timing: { imagePullBackoffMs: 100 } });
});
afterAll(async () => {
  await fake.close();
});

const pod = (
  name: string,
  container: Partial<NonNullable<V1Pod['spec']>['containers'][number]>,
  spec?: Partial<NonNullable<V1Pod['spec']>>,
): V1Pod => ({
  metadata: { name },
  spec: {
    restartPolicy: 'Never',
    containers: [{ name: 'main', image: 'alpine', command: ['sleep', '300'], ...container }],
    ...spec,
  },
});

describe('fake kube: the reasons a step does not run', () => {
  it('image pull failure: ErrImagePull then ImagePullBackOff, with events', async () => {
    const kc = fake.kubeConfig();
    fake.failImagePull(
      'registry.example/missing:1',
      'rpc error: code = NotFound desc = failed to pull and unpack image "registry.example/missing:1": not found',
    );
    await core(kc).createNamespacedPod({
      namespace: NS,
      body: pod('pull-fail', { image: 'registry.example/missing:1' }),
    });
    const errPull = await waitForPod(
      kc,
      NS,
      'pull-fail',
      (p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'ErrImagePull',
    );
    expect(errPull.status?.containerStatuses?.[0]?.state?.waiting?.message).toContain('not found');
    const backoff = await waitForPod(
      kc,
      NS,
      'pull-fail',
      (p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'ImagePullBackOff',
    );
    expect(backoff.status?.phase).toBe('Pending');
    const ev = await waitForEvent(
      kc,
      NS,
      (e) =>
        e.involvedObject.name === 'pull-fail' &&
        e.reason === 'Failed' &&
        (e.message ?? '').startsWith('Failed to pull image'),
    );
    expect(ev.involvedObject.fieldPath).toBe('spec.containers{main}');
  });

  it('OOMKilled: exit code 137, reason OOMKilled, phase Failed', async () => {
    const kc = fake.kubeConfig();
    await core(kc).createNamespacedPod({ namespace: NS, body: pod('oom', {}) });
    await waitForPod(kc, NS, 'oom', isPhase('Running'));
    fake.oomKill('oom');
    const done = await waitForPod(kc, NS, 'oom', isPhase('Failed'));
    expect(done.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({
      exitCode: 137,
      reason: 'OOMKilled',
    });
  });

  it('evicted: phase Failed, reason Evicted, the message, a DisruptionTarget condition', async () => {
    const kc = fake.kubeConfig();
    await core(kc).createNamespacedPod({ namespace: NS, body: pod('evictee', {}) });
    await waitForPod(kc, NS, 'evictee', isPhase('Running'));
    await fake.evict(
      'evictee',
      'The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi.',
    );
    const done = await waitForPod(kc, NS, 'evictee', isPhase('Failed'));
    expect(done.status).toMatchObject({
      reason: 'Evicted',
      message: 'The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi.',
    });
    expect(done.status?.conditions?.find((c) => c.type === 'DisruptionTarget')?.status).toBe('True');
  });

  it('activeDeadlineSeconds: phase Failed, reason DeadlineExceeded', async () => {
    const kc = fake.kubeConfig();
    await core(kc).createNamespacedPod({
      namespace: NS,
      body: pod('slow', {}, { activeDeadlineSeconds: 1 }),
    });
    const done = await waitForPod(kc, NS, 'slow', isPhase('Failed'));
    expect(done.status).toMatchObject({
      reason: 'DeadlineExceeded',
      message: 'Pod was active on the node longer than the specified deadline',
    });
  });

  it('a missing executable is a StartError (exit 128), not a hang', async () => {
    const kc = fake.kubeConfig();
    await core(kc).createNamespacedPod({
      namespace: NS,
      body: pod('no-binary', { command: ['/definitely/not/here'] }),
    });
    const done = await waitForPod(kc, NS, 'no-binary', isPhase('Failed'));
    expect(done.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({
      exitCode: 128,
      reason: 'StartError',
    });
  });

  it('a cut fault drops the next exec websocket once K bytes of stdout crossed it: no Status, code 1006', async () => {
    const kc = fake.kubeConfig();
    await core(kc).createNamespacedPod({ namespace: NS, body: pod('cut-exec', {}) });
    await waitForPod(kc, NS, 'cut-exec', isPhase('Running'));
    const run = async (): Promise<{ bytes: number; status?: V1Status; code: number }> => {
      let bytes = 0;
      let status: V1Status | undefined;
      const out = new Writable({
        write(chunk: Buffer, _e, done) {
          bytes += chunk.length;
          done();
        },
      });
      const ws = await new Exec(kc).exec(
        NS,
        'cut-exec',
        'main',
        ['head', '-c', '200000', '/dev/zero'],
        out,
        null,
        null,
        false,
        (s) => (status = s),
      );
      const code = await closeCode(ws);
      return { bytes, code, ...(status ? { status } : {}) };
    };
    fake.injectFault({ kind: 'cut', count: 1, verb: 'create', resource: 'pods/exec', afterBytes: 10_000 });
    const cut = await run();
    expect(cut.status).toBeUndefined();
    expect(cut.code).toBe(1006);
    expect(cut.bytes).toBeLessThanOrEqual(10_000);
    // One exec only: the next one streams all of it and ends with its Status.
    expect(await run()).toMatchObject({ bytes: 200_000, status: { status: 'Success' }, code: 1000 });
  });

  it("a cut fault drops an attach once K bytes of stdin crossed it; stdinOnce closes the container's stdin", async () => {
    const kc = fake.kubeConfig();
    await core(kc).createNamespacedPod({
      namespace: NS,
      body: pod('cut-attach', {
        command: ['sh', '-c', 'echo "got $(wc -c)"'],
        stdin: true,
        stdinOnce: true,
      }),
    });
    await waitForPod(kc, NS, 'cut-attach', isPhase('Running'));
    fake.injectFault({ kind: 'cut', count: 1, verb: 'create', resource: 'pods/attach', afterBytes: 30_000 });
    const stdin = new PassThrough();
    const ws = await new Attach(kc).attach(NS, 'cut-attach', 'main', null, null, stdin, false);
    const closed = closeCode(ws);
    for (let i = 0; i < 12; i++) stdin.write(Buffer.alloc(8192, 1));
    expect(await closed).toBe(1006);
    await waitForPod(kc, NS, 'cut-attach', isPhase('Succeeded'));
    const log = await core(kc).readNamespacedPodLog({ namespace: NS, name: 'cut-attach' });
    const got = Number(/got (\d+)/.exec(log)?.[1]);
    // Every frame before the one that would cross 30 000 bytes arrived, and nothing after it.
    expect(got).toBeGreaterThan(0);
    expect(got).toBeLessThanOrEqual(30_000);
    expect(got % 8192).toBe(0);
  });
});

function closeCode(ws: WebSocket.WebSocket): Promise<number> {
  return new Promise((resolve) => {
    ws.on('error', () => undefined);
    ws.on('close', (code: number) => resolve(code));
  });
}
