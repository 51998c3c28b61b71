// Admission in the fake: Pod Security levels from namespace labels, ResourceQuota, dry runs.
// client-node's models are classes, but its API accepts plain JSON objects (it serializes them).
/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment */
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeKube, type FakeKube } from './index.js';
import { apiError, core, isPhase, waitForPod } from './test-helpers.js';

let fake: FakeKube;

beforeAll(async () => {
  fake = await startFakeKube({
    namespaces: ['restricted', 'baseline', 'quota'],
    namespaceLabels: {
      restricted: { 'pod-security.kubernetes.io/enforce': 'restricted' },
      baseline: { 'pod-security.kubernetes.io/enforce': 'baseline' },
    },
    resourceQuotas: [
      { namespace: 'quota', name: 'compute', hard: { 'limits.cpu': '4', 'requests.memory': '8Gi' } },
    ],
  });
});
afterAll(async () => {
  await fake.close();
});

const hardened: V1Container['securityContext'] = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
};

const pod = (
  name: string,
  over: Partial<NonNullable<V1Pod['spec']>> = {},
  container: Partial<V1Container> = {},
): V1Pod => ({
  metadata: { name },
  spec: {
    restartPolicy: 'Never',
    containers: [{ name: 'main', image: 'alpine', command: ['true'], ...container }],
    ...over,
  },
});

describe('fake kube: admission', () => {
  it('restricted: a bare pod is refused with every check it fails, in the real words', async () => {
    const { code, status } = await apiError(
      core(fake.kubeConfig()).createNamespacedPod({ namespace: 'restricted', body: pod('bare') }),
    );
    expect(code).toBe(403);
    expect(status.reason).toBe('Forbidden');
    expect(status.message).toBe(
      'pods "bare" is forbidden: violates PodSecurity "restricted:latest": ' +
        'allowPrivilegeEscalation != false (container "main" must set securityContext.allowPrivilegeEscalation=false), ' +
        'unrestricted capabilities (container "main" must set securityContext.capabilities.drop=["ALL"]), ' +
        'runAsNonRoot != true (pod or container "main" must set securityContext.runAsNonRoot=true), ' +
        'seccompProfile (pod or container "main" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")',
    );
    expect(fake.pods('restricted')).toEqual([]);
  });

  it('restricted: a compliant pod runs; runAsUser 0 is refused', async () => {
    const api = core(fake.kubeConfig());
    const ok = pod(
      'compliant',
      {
        securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } },
      },
      { securityContext: hardened },
    );
    await api.createNamespacedPod({ namespace: 'restricted', body: ok });
    await waitForPod(fake.kubeConfig(), 'restricted', 'compliant', isPhase('Succeeded'));
    const root = pod(
      'root',
      { securityContext: { runAsNonRoot: true, runAsUser: 0, seccompProfile: { type: 'RuntimeDefault' } } },
      { securityContext: hardened },
    );
    const { status } = await apiError(api.createNamespacedPod({ namespace: 'restricted', body: root }));
    expect(status.message).toMatch(
      /violates PodSecurity "restricted:latest": runAsUser=0 \(pod must not set runAsUser=0\)$/,
    );
  });

  it('baseline: privileged is refused, the rest admitted', async () => {
    const api = core(fake.kubeConfig());
    const { status } = await apiError(
      api.createNamespacedPod({
        namespace: 'baseline',
        body: pod('priv', {}, { securityContext: { privileged: true } }),
      }),
    );
    expect(status.message).toBe(
      'pods "priv" is forbidden: violates PodSecurity "baseline:latest": privileged (container "main" must not set securityContext.privileged=true)',
    );
    await api.createNamespacedPod({ namespace: 'baseline', body: pod('plain') });
  });

  it('ResourceQuota: every container must specify what the quota names', async () => {
    const api = core(fake.kubeConfig());
    const body = pod(
      'unbounded',
      {
        initContainers: [
          { name: 'init', image: 'alpine', command: ['true'], resources: { limits: { cpu: '1' } } },
        ],
      },
      { resources: { requests: { memory: '1Gi' } } },
    );
    const { code, status } = await apiError(api.createNamespacedPod({ namespace: 'quota', body }));
    expect(code).toBe(403);
    expect(status.message).toBe(
      'pods "unbounded" is forbidden: failed quota: compute: must specify limits.cpu for: main; requests.memory for: init',
    );
    const bounded = pod(
      'bounded',
      {},
      { resources: { requests: { memory: '1Gi', cpu: '1' }, limits: { cpu: '1', memory: '1Gi' } } },
    );
    await api.createNamespacedPod({ namespace: 'quota', body: bounded });
  });

  it('dryRun=All admits without storing; other values are a 400', async () => {
    const api = core(fake.kubeConfig());
    const created = await api.createNamespacedPod({ namespace: 'baseline', body: pod('dry'), dryRun: 'All' });
    expect(created.metadata?.name).toBe('dry');
    expect(created.spec?.restartPolicy).toBe('Never');
    expect(fake.pods('baseline').map((p) => p.metadata.name)).not.toContain('dry');
    const refused = await apiError(
      api.createNamespacedPod({ namespace: 'restricted', body: pod('dry-bare'), dryRun: 'All' }),
    );
    expect(refused.code).toBe(403);
    const bad = await apiError(
      api.createNamespacedPod({ namespace: 'baseline', body: pod('dry2'), dryRun: 'Some' }),
    );
    expect(bad.code).toBe(400);
  });
});
