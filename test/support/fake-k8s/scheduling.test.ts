// client-node's models are classes, but its API accepts plain JSON objects (it serializes them).
/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment */
import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeKube, type FakeKube } from './index.js';
import { core, isPhase, waitForEvent, waitForPod } from './test-helpers.js';

const NS = 'ci';
let fake: FakeKube;

beforeAll(async () => {
  fake = await startFakeKube({
    namespaces: [NS],
    nodes: [
      { name: 'linux-1', labels: { 'kubernetes.io/os': 'linux' }, allocatable: { cpu: '2', memory: '4Gi' } },
      { name: 'linux-2', labels: { 'kubernetes.io/os': 'linux' }, allocatable: { cpu: '2', memory: '4Gi' } },
      {
        name: 'win-1',
        labels: { 'kubernetes.io/os': 'windows', 'node.kubernetes.io/windows-build': '10.0.20348' },
        taints: [{ key: 'os', value: 'windows', effect: 'NoSchedule' }],
      },
    ],
  });
});
afterAll(async () => {
  await fake.close();
});

const pod = (name: string, spec: Partial<NonNullable<V1Pod['spec']>>): V1Pod => ({
  metadata: { name },
  spec: {
    restartPolicy: 'Never',
    containers: [{ name: 'main', image: 'alpine', command: ['true'] }],
    ...spec,
  },
});

describe('fake kube: scheduler', () => {
  it('routes by nodeSelector and taints: a Windows pod tolerating the taint lands on the Windows node', async () => {
    const kc = fake.kubeConfig();
    const api = core(kc);
    await api.createNamespacedPod({
      namespace: NS,
      body: pod('win-step', {
        nodeSelector: { 'kubernetes.io/os': 'windows' },
        tolerations: [{ key: 'os', operator: 'Equal', value: 'windows', effect: 'NoSchedule' }],
      }),
    });
    await api.createNamespacedPod({
      namespace: NS,
      body: pod('linux-step', { nodeSelector: { 'kubernetes.io/os': 'linux' } }),
    });
    const win = await waitForPod(kc, NS, 'win-step', (p) => Boolean(p.spec?.nodeName));
    const lin = await waitForPod(kc, NS, 'linux-step', (p) => Boolean(p.spec?.nodeName));
    expect(win.spec?.nodeName).toBe('win-1');
    expect(lin.spec?.nodeName).toMatch(/^linux-/);
    await waitForPod(kc, NS, 'win-step', isPhase('Succeeded'));
  });

  it('node affinity matchExpressions select nodes', async () => {
    const kc = fake.kubeConfig();
    await core(kc).createNamespacedPod({
      namespace: NS,
      body: pod('affine', {
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                {
                  matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['linux-2'] }],
                },
              ],
            },
          },
        },
      }),
    });
    expect((await waitForPod(kc, NS, 'affine', (p) => Boolean(p.spec?.nodeName))).spec?.nodeName).toBe(
      'linux-2',
    );
  });

  it('leaves an unfit pod Pending with PodScheduled=False and the real FailedScheduling text; retries when nodes change', async () => {
    const kc = fake.kubeConfig();
    const api = core(kc);
    // Without a toleration, a windows selector matches only the tainted node.
    await api.createNamespacedPod({
      namespace: NS,
      body: pod('win-untolerated', { nodeSelector: { 'kubernetes.io/os': 'windows' } }),
    });
    const ev = await waitForEvent(
      kc,
      NS,
      (e) => e.involvedObject.name === 'win-untolerated' && e.reason === 'FailedScheduling',
    );
    expect(ev.type).toBe('Warning');
    expect(ev.message).toBe(
      "0/3 nodes are available: 1 node(s) had untolerated taint {os: windows}, 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
    );
    const pending = await api.readNamespacedPod({ namespace: NS, name: 'win-untolerated' });
    expect(pending.status?.phase).toBe('Pending');
    expect(pending.status?.conditions?.find((c) => c.type === 'PodScheduled')).toMatchObject({
      status: 'False',
      reason: 'Unschedulable',
    });

    await api.createNamespacedPod({
      namespace: NS,
      body: pod('too-big', {
        containers: [
          { name: 'main', image: 'alpine', command: ['true'], resources: { requests: { cpu: '5' } } },
        ],
        tolerations: [{ operator: 'Exists' }],
      }),
    });
    const big = await waitForEvent(
      kc,
      NS,
      (e) => e.involvedObject.name === 'too-big' && e.reason === 'FailedScheduling',
    );
    expect(big.message).toContain('3 Insufficient cpu');
    // A bigger node appears: the scheduler retries and binds.
    fake.addNode({ name: 'linux-big', allocatable: { cpu: '8', memory: '16Gi' } });
    expect((await waitForPod(kc, NS, 'too-big', (p) => Boolean(p.spec?.nodeName))).spec?.nodeName).toBe(
      'linux-big',
    );
  });

  it('does not schedule onto a cordoned node until it is uncordoned', async () => {
    const solo = await startFakeKube({ namespaces: [NS], nodes: [{ name: 'only' }] });
    try {
      const kc = solo.kubeConfig();
      solo.setNodeSchedulable('only', false);
      await core(kc).createNamespacedPod({ namespace: NS, body: pod('waits', {}) });
      const ev = await waitForEvent(kc, NS, (e) => e.reason === 'FailedScheduling');
      expect(ev.message).toContain('1 node(s) were unschedulable');
      solo.setNodeSchedulable('only', true);
      await waitForPod(kc, NS, 'waits', isPhase('Succeeded'));
    } finally {
      await solo.close();
    }
  });
});

describe('fake kube: autoscaler', () => {
  it('an Unschedulable pod gets a node after the delay, then schedules and runs', async () => {
    const scaling = await startFakeKube({
      namespaces: [NS],
      nodes: [{ name: 'small', labels: { pool: 'other' } }],
      autoscaler: { nodes: [{ name: 'scaled-1', labels: { pool: 'ci' } }], delayMs: 500 },
    });
    try {
      const kc = scaling.kubeConfig();
      const started = Date.now();
      await core(kc).createNamespacedPod({
        namespace: NS,
        body: pod('waits', { nodeSelector: { pool: 'ci' } }),
      });
      const pending = await waitForPod(kc, NS, 'waits', (p) =>
        Boolean(p.status?.conditions?.some((c) => c.type === 'PodScheduled' && c.reason === 'Unschedulable')),
      );
      expect(pending.spec?.nodeName).toBeUndefined();
      expect(scaling.nodes().map((n) => n.metadata.name)).toEqual(['small']);
      const placed = await waitForPod(kc, NS, 'waits', (p) => Boolean(p.spec?.nodeName));
      expect(placed.spec?.nodeName).toBe('scaled-1');
      expect(Date.now() - started).toBeGreaterThanOrEqual(500);
      await waitForPod(kc, NS, 'waits', isPhase('Succeeded'));
    } finally {
      await scaling.close();
    }
  });
});
