// The pure core of the kubernetes executor: the Pod one step becomes. No I/O; tested against whole
// expected objects and rendered into docs/kubernetes.md.
//
// Layout: an emptyDir `workspace` mounted at the pool's workspace path in every container.
// - init container `inputs` (helper image) receives one tar holding every input, cache (and the empty
//   output and run dirs), checks its size and sha256, and extracts it (data-path.ts): on its stdin
//   through the API server (pods/attach), or fetched from the agent's data endpoint over the pod
//   network (`data_path: agent`). The pod needs no network path to the hub and nothing privileged.
// - container `step` runs run.path/args in <workspace>/<run.dir> with the step's env.
// - container `outputs` (helper image, only when the step has outputs or caches) idles so that, once
//   `step` has terminated, the agent can exec the upload of each output and cache in it.
// client-node's models are classes, but its API takes plain JSON objects (it serializes them).
/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment */
import path from 'node:path';
import type {
  V1Container,
  V1EnvVar,
  V1Pod,
  V1PodSecurityContext,
  V1ResourceRequirements,
  V1SecurityContext,
} from '@kubernetes/client-node';
import { heldResource, type ExecStep, type StepImage } from '../executor.js';
import { inputsCommand, inputsEnv, outputsEnv, type PodTransfer } from './data-path.js';
import { strategicMerge } from './patch.js';
import type { KubernetesPoolSettings, ResourceAmounts, Toleration } from './settings.js';
import { CMD_METACHARACTERS, windowsBuildOfImage, windowsExtractCommand } from './windows.js';

export const WORKSPACE_VOLUME = 'workspace';
export const INPUTS_CONTAINER = 'inputs';
export const STEP_CONTAINER = 'step';
export const OUTPUTS_CONTAINER = 'outputs';

export const LABEL = {
  managedBy: 'app.kubernetes.io/managed-by',
  agent: 'outpost.dev/agent',
  pool: 'outpost.dev/pool',
  lease: 'outpost.dev/lease',
  team: 'outpost.dev/team',
  pipeline: 'outpost.dev/pipeline',
  job: 'outpost.dev/job',
  build: 'outpost.dev/build',
  stepRun: 'outpost.dev/step-run',
} as const;

export const ANNOTATION = {
  lease: 'outpost.dev/lease',
  step: 'outpost.dev/step',
  build: 'outpost.dev/build-name',
  /** The step's outputs as JSON [{name, path}]: what a reattached step must collect. */
  outputs: 'outpost.dev/outputs',
  /** The agent-side timeout in ms, for a reattached step. */
  timeoutMs: 'outpost.dev/timeout-ms',
  /**
   * On a resource step from an image: {kind, type, responseOutput} as JSON (never the request, which
   * holds the resource's source), so a reattached step reads its response again.
   */
  resource: 'outpost.dev/resource',
  /**
   * "<seq> <position>": the hub has stored the step's log up to this checkpoint (logs.ts positions),
   * written by the agent as acknowledgements come, so a reattached step's log goes on after it.
   */
  logStored: 'outpost.dev/log-stored',
} as const;

// Requests and limits on both: a namespace with a ResourceQuota rejects containers without them.
const HELPER_RESOURCES: V1ResourceRequirements = {
  requests: { cpu: '10m', memory: '32Mi' },
  limits: { cpu: '500m', memory: '256Mi' },
};

/**
 * The uid (and gid) Linux steps and helpers run as when the pool names none: non-root and numeric, as
 * Pod Security `restricted` requires (distroless's "nonroot"; images/helper-linux.Dockerfile's user).
 */
export const DEFAULT_RUN_AS_USER = 65532;

/** activeDeadlineSeconds of a step without a `timeout`: a day. */
export const DEFAULT_POD_DEADLINE_SECONDS = 24 * 60 * 60;

/** A step the pool cannot run as asked (privileged, a path outside the workspace); it ends 'errored'. */
export class PodSpecError extends Error {
  override readonly name = 'PodSpecError';
}

export interface PodIds {
  podName: string;
  agent: string;
  /** The Secret the pod pulls its image with, besides the pool's: the step's own or the pool registry's. */
  pullSecret?: string;
  /** The step's image as image.ts settled it (a tag resolved, an artifact pushed); default imageOf(). */
  image?: string;
  /** How inputs and outputs reach the pod (data-path.ts); absent only for the admission probe. */
  transfer?: PodTransfer;
}

/**
 * `<repository>@<digest>`, else `<repository>:<tag or latest>`; the pool's default without an image. An
 * image that is an artifact has no name until image.ts pushed it: never the default in its place.
 */
export function imageOf(image: StepImage | undefined, pool: KubernetesPoolSettings): string {
  if (image?.artifact)
    throw new PodSpecError("the task's image is an artifact that was not pushed to a registry");
  if (!image?.repository) return pool.defaultImage;
  if (image.digest) return `${image.repository}@${image.digest}`;
  return `${image.repository}:${image.tag || 'latest'}`;
}

/** A label value Kubernetes accepts (63 chars, alphanumeric ends); the exact value goes in annotations. */
export function labelValue(v: string): string {
  return v
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
}

function dnsLabel(v: string, max: number): string {
  return v
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .slice(0, max)
    .replace(/^-+|-+$/g, '');
}

/** `outpost-<step>-<lease>`: readable in `kubectl get pods`, unique by the lease. */
export function podNameFor(step: ExecStep): string {
  const lease = dnsLabel(step.leaseId, 63);
  const what = step.context ? dnsLabel(step.context.stepName, 24) : '';
  return what ? `outpost-${what}-${lease}` : `outpost-${lease}`;
}

/** The labels every object of the step carries (pod and secret): what the sweeper and reattach select on. */
export function labelsFor(
  step: ExecStep,
  pool: KubernetesPoolSettings,
  agent: string,
): Record<string, string> {
  const labels: Record<string, string> = {
    [LABEL.managedBy]: 'outpost',
    [LABEL.agent]: labelValue(agent),
    [LABEL.pool]: labelValue(pool.pool),
    [LABEL.lease]: labelValue(step.leaseId),
  };
  const c = step.context;
  if (c) {
    labels[LABEL.team] = labelValue(c.team);
    labels[LABEL.pipeline] = labelValue(c.pipeline);
    labels[LABEL.job] = labelValue(c.job);
    labels[LABEL.build] = String(c.buildId);
    labels[LABEL.stepRun] = String(c.stepRunId);
  }
  // A value that sanitizes to nothing is left out rather than sent empty.
  return Object.fromEntries(Object.entries(labels).filter(([, v]) => v !== ''));
}

/** The agent's selector for its own objects in a pool. */
export function ownSelector(pool: KubernetesPoolSettings, agent: string): string {
  return `${LABEL.managedBy}=outpost,${LABEL.agent}=${labelValue(agent)},${LABEL.pool}=${labelValue(pool.pool)}`;
}

/** A step path (input, output, run.dir) inside the workspace, in the pod's own path syntax. */
export function workspacePath(pool: KubernetesPoolSettings, rel: string, label: string): string {
  if (rel.includes('\0')) throw new PodSpecError(`${label}: contains a NUL byte`);
  const posix = rel.replace(/\\/g, '/');
  if (path.posix.isAbsolute(posix) || /^[A-Za-z]:/.test(posix))
    throw new PodSpecError(`${label}: must be relative to the work dir`);
  const norm = path.posix.normalize(posix === '' ? '.' : posix);
  if (norm === '..' || norm.startsWith('../')) throw new PodSpecError(`${label}: escapes the work dir`);
  if (norm === '.') return pool.workspace;
  return pool.platform === 'windows'
    ? path.win32.join(pool.workspace, norm.replace(/\//g, '\\'))
    : path.posix.join(pool.workspace, norm);
}

/** Workspace-relative dirs (posix) the inputs tar creates: every input, output, cache and run.dir. */
export function stepDirs(step: ExecStep): string[] {
  const all = [
    ...step.inputs.map((i) => i.path),
    ...step.outputs.map((o) => o.path),
    ...(step.caches ?? []).map((c) => c.path),
    step.run.dir,
  ];
  return [...new Set(all.map((d) => path.posix.normalize(d.replace(/\\/g, '/') || '.')))];
}

// Kubernetes quantities as numbers (cores, bytes) to compare a request with a ceiling.
const SUFFIX: Record<string, number> = {
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

export function parseQuantity(q: string): number {
  const m = /^([0-9.]+)([A-Za-z]*)$/.exec(q);
  const factor = m ? SUFFIX[m[2] ?? ''] : undefined;
  if (!m || factor === undefined) throw new Error(`invalid quantity ${JSON.stringify(q)}`);
  return Number(m[1]) * factor;
}

/**
 * container_limits bounded by the pool's ceilings, else the pool's defaults. Memory is a limit and an
 * equal request; CPU shares (1024 = one core, as Concourse/Garden count them) become a request and limit.
 */
export function stepResources(step: ExecStep, pool: KubernetesPoolSettings): V1ResourceRequirements {
  const { defaults, ceilings } = pool.resources;
  const amounts: ResourceAmounts = { ...defaults };
  if (step.memoryLimitBytes) amounts.memory = String(step.memoryLimitBytes);
  if (step.cpuShares) amounts.cpu = `${Math.max(1, Math.round((step.cpuShares * 1000) / 1024))}m`;
  for (const key of ['cpu', 'memory'] as const) {
    const ask = amounts[key];
    const ceiling = ceilings[key];
    if (ask !== undefined && ceiling !== undefined && parseQuantity(ask) > parseQuantity(ceiling))
      amounts[key] = ceiling;
  }
  const values: Record<string, string> = {};
  if (amounts.cpu !== undefined) values.cpu = amounts.cpu;
  if (amounts.memory !== undefined) values.memory = amounts.memory;
  return Object.keys(values).length === 0 ? {} : { requests: { ...values }, limits: { ...values } };
}

function podSecurityContext(pool: KubernetesPoolSettings): V1PodSecurityContext {
  if (pool.platform === 'windows') {
    // Linux-only fields (seccomp, runAsUser, fsGroup, capabilities) are rejected on Windows pods, and
    // Pod Security `restricted` does not ask for them there; it does ask for runAsNonRoot, which the
    // kubelet checks against the user name (ContainerAdministrator is root).
    return { runAsNonRoot: true, windowsOptions: { runAsUserName: 'ContainerUser' } };
  }
  // Pod Security `restricted`: non-root with a numeric uid (the image's own user is often root or a
  // name the kubelet cannot check). fsGroup owns the workspace volume, so whichever uid a pod_patch
  // gives a container, the step can write its inputs and outputs.
  const uid = pool.runAsUser ?? DEFAULT_RUN_AS_USER;
  const gid = pool.runAsGroup ?? (pool.runAsUser === undefined ? DEFAULT_RUN_AS_USER : undefined);
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    ...(gid !== undefined ? { runAsGroup: gid } : {}),
    fsGroup: gid ?? uid,
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

function containerSecurityContext(
  pool: KubernetesPoolSettings,
  privileged: boolean,
): V1SecurityContext | undefined {
  if (pool.platform === 'windows') return undefined;
  if (privileged) return { privileged: true };
  return { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } };
}

function keepAlive(pool: KubernetesPoolSettings): string[] {
  // Exits at once on SIGTERM so the pod's deletion does not wait out the grace period.
  return pool.helperShell === 'cmd'
    ? ['cmd', '/S', '/C', 'ping -t 127.0.0.1 > NUL']
    : ['sh', '-c', 'trap "exit 0" TERM INT; while true; do sleep 1; done'];
}

/**
 * The workspace's top-level directories the inputs tar makes. Every step path goes into a cmd line
 * (the inputs helper's grants, the outputs helper's uploads): quoted, so no metacharacters.
 */
function topDirs(step: ExecStep): string[] {
  const all = stepDirs(step);
  const bad = all.find((d) => CMD_METACHARACTERS.test(d));
  if (bad !== undefined)
    throw new PodSpecError(
      `path ${JSON.stringify(bad)}: a Windows pool's paths cannot contain " % & | < > ^`,
    );
  const dirs = new Set(all.map((d) => d.split('/')[0] ?? '.'));
  dirs.delete('.');
  return [...dirs];
}

/**
 * node.kubernetes.io/windows-build: the pool's, else the one the step image's tag names (the pool's
 * default image without one), else the helper image's: a Windows container runs only on its build.
 */
function windowsBuildFor(step: ExecStep, pool: KubernetesPoolSettings): string | undefined {
  if (pool.platform !== 'windows') return undefined;
  if (pool.windowsBuild) return pool.windowsBuild;
  const image = step.image?.repository
    ? `${step.image.repository}:${step.image.tag ?? ''}`
    : pool.defaultImage;
  return windowsBuildOfImage(image) ?? windowsBuildOfImage(pool.helperImage);
}

function tolerationsFor(pool: KubernetesPoolSettings): Toleration[] {
  const list = [...pool.tolerations];
  if (pool.windowsToleration) list.push(pool.windowsToleration);
  return list;
}

export function buildPod(step: ExecStep, pool: KubernetesPoolSettings, ids: PodIds): V1Pod {
  if (step.privileged && pool.platform === 'windows')
    throw new PodSpecError(
      `privileged: pool "${pool.pool}" runs Windows containers, which cannot be privileged`,
    );
  if (step.privileged && !pool.allowPrivileged)
    throw new PodSpecError(
      `privileged: pool "${pool.pool}" does not allow privileged steps (allow_privileged)`,
    );
  for (const e of step.secretEnv ?? []) {
    if (!pool.readableSecrets.includes(e.secret))
      throw new PodSpecError(
        `env ${e.name}: secret "${e.secret}" (var source "${e.source}") is not readable by pool "${pool.pool}"; ` +
          'the agent config lists the ones it may read in kubernetes.readable_secrets',
      );
  }
  for (const i of step.inputs)
    workspacePath(pool, i.path, `input "${i.name}" path ${JSON.stringify(i.path)}`);
  for (const o of step.outputs)
    workspacePath(pool, o.path, `output "${o.name}" path ${JSON.stringify(o.path)}`);
  for (const c of step.caches ?? []) workspacePath(pool, c.path, `cache path ${JSON.stringify(c.path)}`);
  const runDir = workspacePath(pool, step.run.dir, `run.dir ${JSON.stringify(step.run.dir)}`);
  if (step.run.path === '') throw new PodSpecError('run.path: must not be empty');

  const mounts = [{ name: WORKSPACE_VOLUME, mountPath: pool.workspace }];
  const helperSecurity = containerSecurityContext(pool, false);
  const nodeSelector: Record<string, string> = { ...pool.nodeSelector, 'kubernetes.io/os': pool.platform };
  if (pool.arch) nodeSelector['kubernetes.io/arch'] = pool.arch;
  const windowsBuild = windowsBuildFor(step, pool);
  if (windowsBuild) nodeSelector['node.kubernetes.io/windows-build'] = windowsBuild;

  const inputs: V1Container = {
    name: INPUTS_CONTAINER,
    image: pool.helperImage,
    command:
      pool.helperShell === 'cmd' ? windowsExtractCommand(pool.workspace, topDirs(step)) : inputsCommand(pool),
    // The `api` data path sends the inputs on stdin; on `agent` the helper fetches them.
    ...(ids.transfer?.agent ? {} : { stdin: true, stdinOnce: true }),
    ...(ids.transfer ? { env: inputsEnv(ids.transfer) } : {}),
    // A failed transfer check's words reach the step's error (reasons.ts).
    terminationMessagePolicy: 'FallbackToLogsOnError',
    volumeMounts: mounts,
    resources: HELPER_RESOURCES,
    ...(helperSecurity ? { securityContext: helperSecurity } : {}),
  };
  const stepSecurity = containerSecurityContext(pool, step.privileged);
  const stepEnv: V1EnvVar[] = [
    ...Object.entries(step.env).map(([name, value]) => ({ name, value })),
    // Read by the kubelet when the container starts: the value never passes through the agent.
    ...(step.secretEnv ?? []).map((e) => ({
      name: e.name,
      valueFrom: { secretKeyRef: { name: e.secret, key: e.key } },
    })),
  ];
  const stepContainer: V1Container = {
    name: STEP_CONTAINER,
    image: ids.image ?? imageOf(step.image, pool),
    command: [step.run.path],
    args: [...step.run.args],
    workingDir: runDir,
    env: stepEnv,
    volumeMounts: mounts,
    resources: stepResources(step, pool),
    ...(stepSecurity ? { securityContext: stepSecurity } : {}),
  };
  const containers = [stepContainer];
  if (step.outputs.length > 0 || (step.caches?.length ?? 0) > 0 || pool.keepFailedSteps) {
    // It outlives the step's container: `outpost intercept` into a failed step kept for its pool's
    // keep_failed_steps_for enters it, in the step's directory and environment (PATH stays the helper
    // image's own: the helper's commands need it).
    const env = [...stepEnv.filter((e) => e.name !== 'PATH'), ...outputsEnv(ids.transfer)];
    containers.push({
      name: OUTPUTS_CONTAINER,
      image: pool.helperImage,
      command: keepAlive(pool),
      workingDir: runDir,
      ...(env.length > 0 ? { env } : {}),
      volumeMounts: mounts,
      resources: HELPER_RESOURCES,
      ...(helperSecurity ? { securityContext: helperSecurity } : {}),
    });
  }

  const annotations: Record<string, string> = {
    [ANNOTATION.lease]: step.leaseId,
    [ANNOTATION.outputs]: JSON.stringify(step.outputs.map((o) => ({ name: o.name, path: o.path }))),
    [ANNOTATION.timeoutMs]: String(step.timeoutMs),
  };
  if (step.context) {
    annotations[ANNOTATION.step] = step.context.stepName;
    annotations[ANNOTATION.build] = step.context.buildName;
  }
  const resource = heldResource(step);
  if (resource) annotations[ANNOTATION.resource] = JSON.stringify(resource);
  const pullSecrets = [...pool.imagePullSecrets, ...(ids.pullSecret ? [ids.pullSecret] : [])];
  const tolerations = tolerationsFor(pool);

  const pod: V1Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: ids.podName,
      namespace: pool.namespace,
      labels: labelsFor(step, pool, ids.agent),
      annotations,
    },
    spec: {
      restartPolicy: 'Never',
      // Every pod has a deadline, so one the agent lost track of cannot run for ever.
      activeDeadlineSeconds:
        step.timeoutMs > 0 ? Math.ceil(step.timeoutMs / 1000) : DEFAULT_POD_DEADLINE_SECONDS,
      os: { name: pool.platform },
      nodeSelector,
      ...(tolerations.length > 0 ? { tolerations } : {}),
      ...(pool.affinity ? { affinity: structuredClone(pool.affinity) } : {}),
      ...(pool.serviceAccount ? { serviceAccountName: pool.serviceAccount } : {}),
      // Without a pool service account the step gets no API credentials at all.
      automountServiceAccountToken: pool.serviceAccount !== undefined,
      ...(pool.runtimeClass ? { runtimeClassName: pool.runtimeClass } : {}),
      ...(pool.priorityClass ? { priorityClassName: pool.priorityClass } : {}),
      ...(pullSecrets.length > 0 ? { imagePullSecrets: pullSecrets.map((name) => ({ name })) } : {}),
      enableServiceLinks: false,
      securityContext: podSecurityContext(pool),
      volumes: [{ name: WORKSPACE_VOLUME, emptyDir: {} }],
      initContainers: [inputs],
      containers,
    },
  };
  // A fresh tree: no object shared between containers or with the pool's settings.
  return JSON.parse(JSON.stringify(pool.podPatch ? strategicMerge(pod, pool.podPatch) : pod)) as V1Pod;
}
