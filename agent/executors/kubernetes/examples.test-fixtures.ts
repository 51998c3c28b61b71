// The steps and pools docs/kubernetes.md shows, shared by the pod builder's tests and the doc check.
import type { ExecStep } from '../executor.js';
import type { KubernetesPoolSettings } from './settings.js';
import { WINDOWS_TOLERATION } from './settings.js';

export const linuxPool: KubernetesPoolSettings = {
  pool: 'linux',
  platform: 'linux',
  namespace: 'ci',
  kubeconfig: undefined,
  context: undefined,
  nodeSelector: { 'node-pool': 'ci' },
  arch: 'amd64',
  windowsBuild: undefined,
  tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'ci', effect: 'NoSchedule' }],
  windowsToleration: undefined,
  affinity: undefined,
  serviceAccount: undefined,
  runtimeClass: undefined,
  imagePullSecrets: ['registry-creds'],
  readableSecrets: [],
  priorityClass: 'ci-steps',
  resources: { defaults: { cpu: '500m', memory: '512Mi' }, ceilings: { cpu: '2', memory: '4Gi' } },
  podPatch: undefined,
  allowPrivileged: false,
  helperImage: 'busybox:1.37',
  defaultImage: 'busybox:1.37',
  helperShell: 'posix',
  workspace: '/workspace',
  runAsUser: undefined,
  runAsGroup: undefined,
  pendingTimeoutSeconds: 300,
  imagePullGraceSeconds: 10,
  registry: undefined,
  // keep_failed_steps_for's default (5m): every pod has the helper a failed step is entered through.
  keepFailedSteps: true,
};

export const windowsPool: KubernetesPoolSettings = {
  ...linuxPool,
  pool: 'windows-2022',
  platform: 'windows',
  nodeSelector: {},
  arch: undefined,
  // From the default image's tag: ltsc2022.
  windowsBuild: undefined,
  tolerations: [],
  windowsToleration: WINDOWS_TOLERATION,
  imagePullSecrets: [],
  priorityClass: undefined,
  helperImage: 'mcr.microsoft.com/windows/nanoserver:ltsc2022',
  defaultImage: 'mcr.microsoft.com/windows/servercore:ltsc2022',
  helperShell: 'cmd',
  workspace: 'C:\\workspace',
};

const context = {
  team: 'main',
  pipeline: 'app',
  job: 'unit',
  buildName: '42',
  buildId: 1042,
  stepName: 'test',
  stepRunId: 7,
};

export const linuxStep: ExecStep = {
  leaseId: '6f1c2a9e-0b7d-4c1e-9a55-3f2d8e4b1c00',
  run: { path: 'sh', args: ['-c', 'cd src && make test > ../report/out.txt'], dir: '', user: '' },
  env: { CI: 'true' },
  inputs: [{ name: 'src', path: 'src', archive: undefined }],
  outputs: [{ name: 'report', path: 'report' }],
  timeoutMs: 30 * 60 * 1000,
  privileged: false,
  context,
  image: { repository: 'golang', tag: '1.23' },
  memoryLimitBytes: 1024 * 1024 * 1024,
};

export const windowsStep: ExecStep = {
  leaseId: '0d9e8f7a-6b5c-4d3e-8f21-a0b1c2d3e4f5',
  run: { path: 'cmd', args: ['/c', 'build.cmd'], dir: 'src', user: '' },
  env: { CONFIGURATION: 'Release' },
  inputs: [{ name: 'src', path: 'src', archive: undefined }],
  outputs: [],
  timeoutMs: 0,
  privileged: false,
  context: { ...context, job: 'windows', stepName: 'build' },
};

export const ids = (podName: string) => ({ podName, agent: 'edge-1' });
