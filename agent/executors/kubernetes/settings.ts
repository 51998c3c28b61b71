// A kubernetes pool's settings as the executor needs them: the agent config produces this shape (the
// executor folder sees no agent module but the executor contract).

/** A Kubernetes toleration, in the API's own shape. */
export interface Toleration {
  key?: string;
  operator?: 'Equal' | 'Exists';
  value?: string;
  effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
  tolerationSeconds?: number;
}

export interface ResourceAmounts {
  /** Kubernetes quantities, e.g. "500m", "2". */
  cpu?: string;
  /** e.g. "512Mi". */
  memory?: string;
}

export interface KubernetesPoolSettings {
  /** The pool's name (a label on every pod). */
  pool: string;
  platform: 'linux' | 'windows';
  namespace: string;
  /** Absolute path; undefined: in-cluster config. */
  kubeconfig: string | undefined;
  /** A context of the kubeconfig; undefined: its current context. */
  context: string | undefined;
  nodeSelector: Readonly<Record<string, string>>;
  /** kubernetes.io/arch, when the pool names one. */
  arch: string | undefined;
  /** node.kubernetes.io/windows-build; undefined: from the image's tag (windows.ts). */
  windowsBuild: string | undefined;
  tolerations: readonly Toleration[];
  /** Added on Windows pools (default os=windows:NoSchedule); undefined: none. */
  windowsToleration: Toleration | undefined;
  /** A V1Affinity object, passed through. */
  affinity: Readonly<Record<string, unknown>> | undefined;
  serviceAccount: string | undefined;
  runtimeClass: string | undefined;
  imagePullSecrets: readonly string[];
  /**
   * Secrets of the namespace whose keys steps may read into env vars (a pipeline var source of type
   * `kubernetes`); the kubelet reads them, not the agent. Default: none.
   */
  readableSecrets: readonly string[];
  priorityClass: string | undefined;
  resources: { defaults: ResourceAmounts; ceilings: ResourceAmounts };
  /** A strategic-merge patch applied to every pod, last. */
  podPatch: Readonly<Record<string, unknown>> | undefined;
  allowPrivileged: boolean;
  helperImage: string;
  defaultImage: string;
  /** How the helpers' keep-alive command is spelled: a POSIX shell or cmd.exe. */
  helperShell: 'posix' | 'cmd';
  /** Where inputs and outputs live in the pod: /workspace, C:\workspace. */
  workspace: string;
  /** Steps and helpers run as this uid (runAsNonRoot) when set; images must allow it. */
  runAsUser: number | undefined;
  runAsGroup: number | undefined;
  pendingTimeoutSeconds: number;
  imagePullGraceSeconds: number;
  /**
   * How inputs, outputs and caches reach the pods (data-path.ts): `agent` over the pod network from
   * the agent's data endpoint, `api` through the API server. Absent: `api`.
   */
  dataPath?: 'agent' | 'api';
  /**
   * The agent keeps failed steps for `outpost intercept` (its pool's keep_failed_steps_for is not 0):
   * every pod then has the `outputs` helper, which outlives the step's container. Absent: false.
   */
  keepFailedSteps?: boolean;
  /** Where the agent pushes images steps built, to run them by digest (image.ts); undefined: none. */
  registry: PoolRegistry | undefined;
}

/** A registry the agent pushes build artifacts that hold an image to (a task's OCI image output). */
export interface PoolRegistry {
  /** host[:port]/path: images are pushed here and run as `<repository>@<digest>`. */
  repository: string;
  /** Plain HTTP, or a certificate that does not verify. */
  insecure: boolean;
  username: string | undefined;
  /** Read at each push, so a rotated file is picked up. */
  passwordFile: string | undefined;
  /** An existing dockerconfigjson Secret pods pull with; undefined: a per-step Secret from the credentials. */
  pullSecret: string | undefined;
}

export const LINUX_HELPER_IMAGE = 'busybox:1.37';
export const WINDOWS_HELPER_IMAGE = 'mcr.microsoft.com/windows/nanoserver:ltsc2022';
export const LINUX_DEFAULT_IMAGE = 'busybox:1.37';
export const WINDOWS_DEFAULT_IMAGE = 'mcr.microsoft.com/windows/servercore:ltsc2022';
export const WINDOWS_TOLERATION: Toleration = {
  key: 'os',
  operator: 'Equal',
  value: 'windows',
  effect: 'NoSchedule',
};
