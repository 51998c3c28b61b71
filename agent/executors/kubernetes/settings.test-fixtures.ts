// Pool settings for executor tests against the fake API server: every field, with test-friendly values.
import type { KubernetesPoolSettings } from './settings.js';

export const NS = 'ci';

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
    registry: undefined,
    ...over,
  };
}
