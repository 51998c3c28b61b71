// client-node's models are classes, but its API accepts plain JSON objects (it serializes them).
/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment */
import type { V1Pod } from '@kubernetes/client-node';
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
});
