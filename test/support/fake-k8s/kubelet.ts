// One fake kubelet for all fake nodes: runs bound pods' containers as local processes (see runtime.ts)
// and reports status the way the real kubelet does (phases, conditions, waiting/terminated reasons,
// events). Deliberate simplifications are marked "fake:" and listed in README.md.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ApiError, badRequest } from './errors.js';
import { nowSeconds, type EventRecorder } from './events.js';
import { LogBuffer } from './logs.js';
import {
  killGroup,
  launch,
  signalExitCode,
  START_ERROR_EXIT,
  watchStart,
  type Isolation,
  type Mount,
  type RunAs,
} from './runtime.js';
import { pullAuthsOf, registryPullFailure } from './registry-pull.js';
import { setCondition } from './scheduler.js';
import type { KObject, Store } from './store.js';

export interface ImageConfig {
  entrypoint?: string[];
  cmd?: string[];
  /**
   * Files the image holds, by absolute path (`/opt/resource/check`): written into each container's root
   * before it starts. A top-level directory the image provides (`/opt`) is the image's own, not the
   * host's (chroot isolation); string content gets mode 0755.
   */
  files?: Record<string, string | { content: string; mode?: number }>;
}

/**
 * The container's user as the kubelet and runc settle it: the container's securityContext over the
 * pod's; fsGroup and supplementalGroups join as supplementary groups. An image's USER is unknowable
 * here, so without runAsUser a container runs as root (uid 0, gid 0), as most images do.
 */
export function runAsOf(pod: PodSecurityContext | undefined, c: SecurityContext | undefined): RunAs {
  const uid = c?.runAsUser ?? pod?.runAsUser ?? 0;
  const gid = c?.runAsGroup ?? pod?.runAsGroup ?? 0;
  const groups = [...(pod?.fsGroup !== undefined ? [pod.fsGroup] : []), ...(pod?.supplementalGroups ?? [])];
  return { uid, gid, groups: [...new Set(groups)] };
}

/** The image's config: by its exact name, else by its repository (any tag or digest). */
export function imageConfig(images: Record<string, ImageConfig>, image: string): ImageConfig {
  if (images[image]) return images[image];
  const at = image.indexOf('@');
  const noDigest = at >= 0 ? image.slice(0, at) : image;
  const colon = noDigest.lastIndexOf(':');
  const repo = colon > noDigest.lastIndexOf('/') ? noDigest.slice(0, colon) : noDigest;
  return images[noDigest] ?? images[repo] ?? {};
}

export interface KubeletTiming {
  /** Delay between image pull retries (ErrImagePull <-> ImagePullBackOff). Real: 10s doubling to 5m. */
  imagePullBackoffMs: number;
  /** Delay between retries of CreateContainerConfigError / FailedMount. Real: the pod sync period. */
  retryMs: number;
  /** Delay between restarts for restartPolicy Always/OnFailure. Real: 10s doubling to 5m. */
  crashLoopBackoffMs: number;
}

export interface KubeletOptions {
  store: Store;
  events: EventRecorder;
  isolation: Isolation;
  workDir: string;
  timing: KubeletTiming;
  images: Record<string, ImageConfig>;
  imagePullFailures: Map<string, string>;
  /** Loopback registries images are really pulled from (registry-pull.ts). */
  registries: readonly string[];
  /** containerLogMaxSize: a container's log file rotates past this many bytes. */
  logRotateBytes: number;
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name: string; key: string; optional?: boolean };
    configMapKeyRef?: { name: string; key: string; optional?: boolean };
    fieldRef?: { fieldPath: string };
    resourceFieldRef?: { resource: string };
  };
}
export interface ContainerSpec {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  envFrom?: Array<{
    prefix?: string;
    secretRef?: { name: string; optional?: boolean };
    configMapRef?: { name: string; optional?: boolean };
  }>;
  workingDir?: string;
  volumeMounts?: Array<{ name: string; mountPath: string; subPath?: string; readOnly?: boolean }>;
  imagePullPolicy?: string;
  stdin?: boolean;
  stdinOnce?: boolean;
  tty?: boolean;
  terminationMessagePolicy?: string;
  securityContext?: SecurityContext;
}
interface SecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  windowsOptions?: { runAsUserName?: string };
}
interface PodSecurityContext extends SecurityContext {
  fsGroup?: number;
  supplementalGroups?: number[];
}
interface PodSpec {
  securityContext?: PodSecurityContext;
  nodeName?: string;
  containers: ContainerSpec[];
  initContainers?: ContainerSpec[];
  volumes?: Array<
    {
      name: string;
      emptyDir?: unknown;
      secret?: { secretName: string; optional?: boolean; items?: Array<{ key: string; path: string }> };
    } & Record<string, unknown>
  >;
  restartPolicy?: string;
  activeDeadlineSeconds?: number;
  terminationGracePeriodSeconds?: number;
  serviceAccountName?: string;
  imagePullSecrets?: Array<{ name: string }>;
  os?: { name?: string };
}

type State =
  | { waiting: { reason: string; message?: string } }
  | { running: { startedAt: string } }
  | {
      terminated: {
        exitCode: number;
        reason: string;
        message?: string;
        startedAt?: string;
        finishedAt: string;
        containerID?: string;
      };
    };

export class ContainerRun {
  state: State;
  lastState: State | Record<string, never> = {};
  restartCount = 0;
  proc: ChildProcess | undefined;
  logs: LogBuffer;
  previousLogs: LogBuffer | undefined;
  env: Record<string, string> = {};
  containerID: string | undefined;
  imageID = '';
  oom = false;
  everRan = false;
  /** Set when it is configured to start (runOnce). */
  runAs: RunAs = { uid: 0, gid: 0, groups: [] };
  constructor(
    readonly spec: ContainerSpec,
    readonly init: boolean,
    readonly rootfs: string,
    readonly logRotateBytes: number,
  ) {
    this.logs = new LogBuffer(logRotateBytes);
    this.state = { waiting: { reason: init ? 'PodInitializing' : 'PodInitializing' } };
  }
  /** Read after an await: the OOM flag is set from outside while the process runs. */
  wasOomKilled(): boolean {
    return this.oom;
  }
  get fieldPath(): string {
    return `${this.init ? 'spec.initContainers' : 'spec.containers'}{${this.spec.name}}`;
  }
  get running(): boolean {
    return 'running' in this.state;
  }
  get workingDir(): string {
    return this.spec.workingDir ?? '/';
  }
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

class Aborted extends Error {}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(new Aborted());
      return;
    }
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(new Aborted());
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export class PodWorker {
  readonly containers = new Map<string, ContainerRun>();
  readonly abort = new AbortController();
  readonly dir: string;
  podReason: string | undefined;
  podMessage: string | undefined;
  private initFailed = false;
  private initsDone = false;
  private deadline: NodeJS.Timeout | undefined;
  private readonly startTime = nowSeconds();
  private readonly podIP: string;
  terminating: Promise<void> | undefined;
  finished = false;

  constructor(
    private readonly k: Kubelet,
    readonly namespace: string,
    readonly name: string,
    readonly uid: string,
    readonly spec: PodSpec,
    readonly nodeName: string,
  ) {
    this.dir = path.join(k.opts.workDir, `${namespace}_${name}_${uid}`);
    for (const c of spec.initContainers ?? [])
      this.containers.set(
        c.name,
        new ContainerRun(c, true, path.join(this.dir, 'containers', c.name), k.opts.logRotateBytes),
      );
    for (const c of spec.containers)
      this.containers.set(
        c.name,
        new ContainerRun(c, false, path.join(this.dir, 'containers', c.name), k.opts.logRotateBytes),
      );
    this.podIP = `10.244.${Math.floor(Math.random() * 250)}.${2 + Math.floor(Math.random() * 250)}`;
  }

  private get store(): Store {
    return this.k.opts.store;
  }

  private podObject(): KObject | undefined {
    const p = this.store.get('pods', this.namespace, this.name);
    return p?.metadata.uid === this.uid ? p : undefined;
  }

  private event(type: 'Normal' | 'Warning', reason: string, message: string, c?: ContainerRun): void {
    const pod = this.podObject();
    if (pod)
      this.k.opts.events.record(
        pod,
        type,
        reason,
        message,
        { component: 'kubelet', host: this.nodeName },
        c?.fieldPath,
      );
  }

  get inits(): ContainerRun[] {
    return [...this.containers.values()].filter((c) => c.init);
  }
  get apps(): ContainerRun[] {
    return [...this.containers.values()].filter((c) => !c.init);
  }

  async run(): Promise<void> {
    const signal = this.abort.signal;
    if (this.spec.activeDeadlineSeconds !== undefined) {
      this.deadline = setTimeout(() => {
        this.podReason = 'DeadlineExceeded';
        this.podMessage = 'Pod was active on the node longer than the specified deadline';
        this.event('Warning', 'DeadlineExceeded', this.podMessage);
        void this.terminate(this.spec.terminationGracePeriodSeconds ?? 30);
      }, this.spec.activeDeadlineSeconds * 1000);
    }
    try {
      this.sync();
      await this.setUpVolumes(signal);
      for (const c of this.inits) {
        c.state = { waiting: { reason: 'ContainerCreating' } };
        for (;;) {
          const exitCode = await this.runOnce(c, signal);
          if (exitCode === 0) break;
          if (this.spec.restartPolicy === 'Never') {
            this.initFailed = true;
            this.sync();
            return;
          }
          await this.backoff(c, signal);
        }
      }
      this.initsDone = true;
      for (const c of this.apps) c.state = { waiting: { reason: 'ContainerCreating' } };
      this.sync();
      await Promise.all(
        this.apps.map(async (c) => {
          for (;;) {
            const exitCode = await this.runOnce(c, signal);
            const policy = this.spec.restartPolicy ?? 'Always';
            if (policy === 'Never' || (policy === 'OnFailure' && exitCode === 0)) return;
            await this.backoff(c, signal);
          }
        }),
      );
    } catch (err) {
      if (!(err instanceof Aborted)) throw err;
    } finally {
      clearTimeout(this.deadline);
    }
    this.finished = true;
    this.sync();
  }

  /** Restart backoff for restartPolicy Always/OnFailure: CrashLoopBackOff while waiting. */
  private async backoff(c: ContainerRun, signal: AbortSignal): Promise<void> {
    c.lastState = c.state;
    c.restartCount++;
    const ms = Math.min(this.k.opts.timing.crashLoopBackoffMs * 2 ** (c.restartCount - 1), 300_000);
    c.state = {
      waiting: {
        reason: 'CrashLoopBackOff',
        message: `back-off ${Math.round(ms / 1000)}s restarting failed container=${c.spec.name} pod=${this.name}_${this.namespace}(${this.uid})`,
      },
    };
    this.event('Warning', 'BackOff', 'Back-off restarting failed container', c);
    this.sync();
    await sleep(ms, signal);
  }

  private async setUpVolumes(signal: AbortSignal): Promise<void> {
    for (const v of this.spec.volumes ?? []) {
      const dir = path.join(this.dir, 'volumes', v.name);
      mkdirSync(dir, { recursive: true });
      // As the kubelet's emptyDir: world-writable; with fsGroup, group-owned by it with the setgid bit
      // (SetVolumeOwnership), so what containers create there belongs to that group too.
      const fsGroup = this.spec.securityContext?.fsGroup;
      chmodSync(dir, fsGroup === undefined ? 0o777 : 0o2777);
      if (fsGroup !== undefined && process.getuid?.() === 0) chownSync(dir, 0, fsGroup);
      if ('emptyDir' in v) continue;
      if (v.secret) {
        for (;;) {
          const secret = this.store.get('secrets', this.namespace, v.secret.secretName);
          if (secret || v.secret.optional) {
            const data = (secret?.data ?? {}) as Record<string, string>;
            const items = v.secret.items ?? Object.keys(data).map((key) => ({ key, path: key }));
            for (const item of items) {
              const value = data[item.key];
              if (value === undefined) continue;
              mkdirSync(path.dirname(path.join(dir, item.path)), { recursive: true });
              const file = path.join(dir, item.path);
              writeFileSync(file, Buffer.from(value, 'base64'), { mode: 0o644 });
              if (fsGroup !== undefined && process.getuid?.() === 0) chownSync(file, 0, fsGroup);
            }
            break;
          }
          this.event(
            'Warning',
            'FailedMount',
            `MountVolume.SetUp failed for volume "${v.name}" : secret "${v.secret.secretName}" not found`,
          );
          await sleep(this.k.opts.timing.retryMs, signal);
        }
        continue;
      }
      // fake: other volume types are not emulated; the pod stays ContainerCreating like a failed mount.
      for (;;) {
        this.event(
          'Warning',
          'FailedMount',
          `MountVolume.SetUp failed for volume "${v.name}" : fake-kube supports only emptyDir and secret volumes`,
        );
        await sleep(this.k.opts.timing.retryMs * 10, signal);
      }
    }
  }

  /** Pull, configure, start and wait for one run of a container; returns its exit code. */
  private async runOnce(c: ContainerRun, signal: AbortSignal): Promise<number> {
    await this.pullImage(c, signal);
    let argv: string[];
    for (;;) {
      try {
        c.runAs = this.runAs(c.spec);
        c.env = this.resolveEnv(c.spec, c.runAs);
        argv = this.argv(c);
        break;
      } catch (err) {
        if (!(err instanceof ContainerConfigError)) throw err;
        c.state = { waiting: { reason: err.reason, message: err.message } };
        this.event('Warning', 'Failed', `Error: ${err.message}`, c);
        this.sync();
        await sleep(this.k.opts.timing.retryMs, signal);
      }
    }
    c.containerID = `containerd://${randomBytes(32).toString('hex')}`;
    this.event('Normal', 'Created', `Created container: ${c.spec.name}`, c);
    const mounts: Mount[] = (c.spec.volumeMounts ?? []).map((m) => {
      let source = path.join(this.dir, 'volumes', m.name);
      if (m.subPath) {
        source = path.join(source, m.subPath);
        mkdirSync(source, { recursive: true });
      }
      return { source, target: m.mountPath, readOnly: Boolean(m.readOnly) };
    });
    if (c.logs.lines.length || c.everRan) {
      c.previousLogs = c.logs;
      c.logs = new LogBuffer(c.logRotateBytes);
    }
    // terminate() aborts and then kills the containers it sees running, synchronously: a launch after
    // the abort would escape it and write into the rootfs while teardown removes it.
    if (signal.aborted) throw new Aborted();
    const imageDirs = writeImageFiles(c.rootfs, imageConfig(this.k.opts.images, c.spec.image));
    const proc = launch({
      isolation: this.k.opts.isolation,
      rootfs: c.rootfs,
      imageDirs,
      workingDir: c.workingDir,
      mounts,
      argv,
      env: c.env,
      stdin: Boolean(c.spec.stdin),
      runAs: c.runAs,
    });
    c.proc = proc;
    c.oom = false;
    c.everRan = true;
    let startedAt = nowSeconds();
    proc.stdout?.on('data', (d: Buffer) => c.logs.write('stdout', d));
    proc.stderr?.on('data', (d: Buffer) => c.logs.write(c.spec.tty ? 'stdout' : 'stderr', d));
    const start = watchStart(proc, () => {
      startedAt = nowSeconds();
      c.state = { running: { startedAt } };
      this.event('Normal', 'Started', `Started container ${c.spec.name}`, c);
      this.sync();
    });
    // The container's PID 1 exiting takes the rest of its processes down (like a PID namespace).
    proc.on('exit', () => killGroup(proc, 'SIGKILL'));
    const { code, sig } = await new Promise<{ code: number | null; sig: NodeJS.Signals | null }>(
      (resolve) => {
        proc.on('close', (code, sig) => resolve({ code, sig }));
        proc.on('error', () => resolve({ code: START_ERROR_EXIT, sig: null }));
      },
    );
    c.proc = undefined;
    c.logs.end();
    const finishedAt = nowSeconds();
    const startError = start.error();
    if (code === START_ERROR_EXIT && startError) {
      c.state = {
        terminated: {
          exitCode: 128,
          reason: 'StartError',
          message: startError,
          startedAt: '1970-01-01T00:00:00Z',
          finishedAt,
          containerID: c.containerID,
        },
      };
      this.event('Warning', 'Failed', `Error: ${startError}`, c);
    } else {
      const oom = c.wasOomKilled();
      const exitCode = oom ? 137 : signalExitCode(sig, code);
      const reason = oom ? 'OOMKilled' : exitCode === 0 ? 'Completed' : 'Error';
      const message =
        exitCode !== 0 && c.spec.terminationMessagePolicy === 'FallbackToLogsOnError'
          ? tail(c.logs)
          : undefined;
      c.state = {
        terminated: {
          exitCode,
          reason,
          ...(message ? { message } : {}),
          startedAt,
          finishedAt,
          containerID: c.containerID,
        },
      };
    }
    this.sync();
    return (c.state as { terminated: { exitCode: number } }).terminated.exitCode;
  }

  private async pullImage(c: ContainerRun, signal: AbortSignal): Promise<void> {
    const image = c.spec.image;
    for (;;) {
      const failure = this.k.opts.imagePullFailures.get(image) ?? (await this.registryPullFailure(image));
      if (failure === undefined) break;
      this.event('Normal', 'Pulling', `Pulling image "${image}"`, c);
      c.state = { waiting: { reason: 'ErrImagePull', message: failure } };
      this.event('Warning', 'Failed', `Failed to pull image "${image}": ${failure}`, c);
      this.event('Warning', 'Failed', 'Error: ErrImagePull', c);
      this.sync();
      await sleep(this.k.opts.timing.imagePullBackoffMs, signal);
      c.state = {
        waiting: {
          reason: 'ImagePullBackOff',
          message: `Back-off pulling image "${image}": ErrImagePull: ${failure}`,
        },
      };
      this.event('Normal', 'BackOff', `Back-off pulling image "${image}"`, c);
      this.event('Warning', 'Failed', 'Error: ImagePullBackOff', c);
      this.sync();
      await sleep(this.k.opts.timing.imagePullBackoffMs, signal);
    }
    const pulled = this.k.pulledImages(this.nodeName);
    if (pulled.has(image) && c.spec.imagePullPolicy !== 'Always') {
      this.event('Normal', 'Pulled', `Container image "${image}" already present on machine`, c);
    } else {
      this.event('Normal', 'Pulling', `Pulling image "${image}"`, c);
      this.event(
        'Normal',
        'Pulled',
        `Successfully pulled image "${image}" in 1ms (1ms including waiting). Image size: 1024 bytes.`,
        c,
      );
      pulled.add(image);
    }
    c.imageID = `${image.split(':')[0]!}@sha256:${Buffer.from(image).toString('hex').padEnd(64, '0').slice(0, 64)}`;
  }

  /** A pull from one of the loopback registries, with the pod's imagePullSecrets (registry-pull.ts). */
  private async registryPullFailure(image: string): Promise<string | undefined> {
    if (this.k.opts.registries.length === 0) return undefined;
    const auths = (this.spec.imagePullSecrets ?? []).flatMap(({ name }) =>
      pullAuthsOf(
        this.store.get('secrets', this.namespace, name)?.data as Record<string, string> | undefined,
      ),
    );
    return registryPullFailure(image, this.k.opts.registries, auths);
  }

  private argv(c: ContainerRun): string[] {
    const img = imageConfig(this.k.opts.images, c.spec.image);
    const command = c.spec.command ?? img.entrypoint ?? [];
    const args = c.spec.args ?? (c.spec.command ? [] : (img.cmd ?? []));
    const argv = [...command, ...args].map((a) => expand(a, c.env));
    if (!argv.length) {
      // fake: the image's ENTRYPOINT/CMD is unknowable unless declared in FakeKubeOptions.images.
      throw new ContainerConfigError(
        'CreateContainerError',
        `failed to generate container spec: no command specified (fake-kube: set command, or declare image "${c.spec.image}" in FakeKubeOptions.images)`,
      );
    }
    return argv;
  }

  /** runAsNonRoot is the kubelet's check, made before the container is created. */
  private runAs(spec: ContainerSpec): RunAs {
    const podContext = this.spec.securityContext;
    const runAs = runAsOf(podContext, spec.securityContext);
    const nonRoot = spec.securityContext?.runAsNonRoot ?? podContext?.runAsNonRoot;
    const id = `pod: "${this.name}_${this.namespace}(${this.uid})", container: ${spec.name}`;
    if (nonRoot && this.spec.os?.name === 'windows') {
      // Windows has no uids: the kubelet checks the user name, where ContainerAdministrator is root.
      // fake: the process runs as uid 0 whatever the name (README).
      const user =
        spec.securityContext?.windowsOptions?.runAsUserName ?? podContext?.windowsOptions?.runAsUserName;
      if (user === undefined || user === 'ContainerAdministrator')
        throw new ContainerConfigError(
          'CreateContainerConfigError',
          user === undefined
            ? `container has runAsNonRoot and image will run as root (${id})`
            : `container's runAsUserName (ContainerAdministrator) which will be regarded as root identity and will break non-root policy (${id})`,
        );
      return runAs;
    }
    if (nonRoot && runAs.uid === 0) {
      const explicit = spec.securityContext?.runAsUser ?? podContext?.runAsUser;
      throw new ContainerConfigError(
        'CreateContainerConfigError',
        explicit === 0
          ? `container's runAsUser breaks non-root policy (${id})`
          : `container has runAsNonRoot and image will run as root (${id})`,
      );
    }
    return runAs;
  }

  private resolveEnv(spec: ContainerSpec, runAs: RunAs): Record<string, string> {
    const pod = this.podObject();
    // containerd's HOME for a uid without a passwd entry in the image is "/".
    const home = runAs.uid === 0 ? '/root' : '/';
    const env: Record<string, string> = { PATH: DEFAULT_PATH, HOSTNAME: this.name, HOME: home };
    const secret = (name: string): Record<string, string> | undefined => {
      const s = this.store.get('secrets', this.namespace, name);
      return s ? ((s.data ?? {}) as Record<string, string>) : undefined;
    };
    for (const ef of spec.envFrom ?? []) {
      if (ef.secretRef) {
        const data = secret(ef.secretRef.name);
        if (!data) {
          if (ef.secretRef.optional) continue;
          throw new ContainerConfigError(
            'CreateContainerConfigError',
            `secret "${ef.secretRef.name}" not found`,
          );
        }
        for (const [k, v] of Object.entries(data))
          env[(ef.prefix ?? '') + k] = Buffer.from(v, 'base64').toString();
      } else if (ef.configMapRef && !ef.configMapRef.optional) {
        // fake: ConfigMaps are not served; a referenced one is always missing.
        throw new ContainerConfigError(
          'CreateContainerConfigError',
          `configmap "${ef.configMapRef.name}" not found`,
        );
      }
    }
    for (const e of spec.env ?? []) {
      const vf = e.valueFrom;
      if (!vf) {
        env[e.name] = expand(e.value ?? '', env);
        continue;
      }
      if (vf.secretKeyRef) {
        const ref = vf.secretKeyRef;
        const data = secret(ref.name);
        if (!data) {
          if (ref.optional) continue;
          throw new ContainerConfigError('CreateContainerConfigError', `secret "${ref.name}" not found`);
        }
        const v = data[ref.key];
        if (v === undefined) {
          if (ref.optional) continue;
          throw new ContainerConfigError(
            'CreateContainerConfigError',
            `couldn't find key ${ref.key} in Secret ${this.namespace}/${ref.name}`,
          );
        }
        env[e.name] = Buffer.from(v, 'base64').toString();
      } else if (vf.configMapKeyRef) {
        if (vf.configMapKeyRef.optional) continue;
        throw new ContainerConfigError(
          'CreateContainerConfigError',
          `configmap "${vf.configMapKeyRef.name}" not found`,
        );
      } else if (vf.fieldRef) {
        env[e.name] = fieldRef(vf.fieldRef.fieldPath, pod, this);
      } else env[e.name] = '';
    }
    return env;
  }

  get podIPAddress(): string {
    return this.podIP;
  }

  /** Stops all containers: SIGTERM to each main process, SIGKILL to the group after the grace period. */
  terminate(graceSeconds: number): Promise<void> {
    if (this.terminating) return this.terminating;
    this.abort.abort();
    this.terminating = (async () => {
      const running = [...this.containers.values()].filter((c) => c.proc);
      for (const c of running) {
        this.event('Normal', 'Killing', `Stopping container ${c.spec.name}`, c);
        // fake: SIGTERM goes to the main process, which is not PID 1 here (real PID 1 ignores unhandled SIGTERM).
        if (graceSeconds > 0 && c.proc?.pid) {
          try {
            process.kill(c.proc.pid, 'SIGTERM');
          } catch {
            // exited meanwhile
          }
        }
      }
      const exited = Promise.all(
        running.map((c) =>
          c.proc ? new Promise<void>((r) => c.proc?.once('close', () => r())) : Promise.resolve(),
        ),
      );
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        exited,
        new Promise<void>((r) => {
          timer = setTimeout(r, graceSeconds * 1000);
        }),
      ]);
      clearTimeout(timer);
      for (const c of running) if (c.proc) killGroup(c.proc, 'SIGKILL');
      await exited;
      // Containers that never ran end as terminated too, like the kubelet's final status.
      for (const c of this.containers.values()) {
        if ('waiting' in c.state && (!c.init || !this.initsDone)) {
          c.state = {
            terminated: {
              exitCode: 137,
              reason: 'ContainerStatusUnknown',
              message: 'The container could not be located when the pod was terminated',
              finishedAt: nowSeconds(),
            },
          };
        }
      }
      await new Promise((r) => setImmediate(r));
      this.finished = true;
      this.sync();
    })();
    return this.terminating;
  }

  /** OOM-kills a running container (SIGKILL to its process group, reason OOMKilled). */
  oomKill(container: string | undefined): void {
    const c = container ? this.containers.get(container) : [...this.containers.values()].find((x) => x.proc);
    if (!c?.proc) throw new Error(`fake-kube: no running container ${container ?? ''} in pod ${this.name}`);
    c.oom = true;
    killGroup(c.proc, 'SIGKILL');
  }

  phase(): 'Pending' | 'Running' | 'Succeeded' | 'Failed' {
    if (this.podReason) return 'Failed';
    if (this.initFailed) return 'Failed';
    const policy = this.spec.restartPolicy ?? 'Always';
    if (!this.initsDone && !this.finished) return 'Pending';
    let waiting = 0;
    let running = 0;
    let stopped = 0;
    let succeeded = 0;
    for (const c of this.apps) {
      if ('running' in c.state) running++;
      else if ('terminated' in c.state) {
        stopped++;
        if (c.state.terminated.exitCode === 0) succeeded++;
      } else if ('terminated' in c.lastState) stopped++;
      else waiting++;
    }
    if (waiting > 0) return this.finished ? 'Failed' : 'Pending';
    if (running > 0) return 'Running';
    if (policy === 'Always' && !this.finished) return 'Running';
    if (stopped === succeeded) return 'Succeeded';
    if (policy === 'OnFailure' && !this.finished) return 'Running';
    return 'Failed';
  }

  /** Writes the current status to the pod object (no-op if nothing changed or the pod is gone). */
  sync(): void {
    const pod = this.podObject();
    if (!pod) return;
    const phase = this.phase();
    const terminal = phase === 'Succeeded' || phase === 'Failed';
    const status = (c: ContainerRun): Record<string, unknown> => ({
      name: c.spec.name,
      state: c.state,
      lastState: c.lastState,
      ready: c.running && !c.init,
      restartCount: c.restartCount,
      image: c.spec.image,
      imageID: c.imageID,
      ...(c.containerID ? { containerID: c.containerID } : {}),
      started: c.running,
      ...(c.init ? {} : {}),
    });
    const unready = this.apps.filter((c) => !c.running).map((c) => c.spec.name);
    const incompleteInits = this.inits
      .filter((c) => !('terminated' in c.state && c.state.terminated.exitCode === 0))
      .map((c) => c.spec.name);
    this.store.update('pods', this.namespace, this.name, (p) => {
      const s = (p.status ??= {}) as Record<string, unknown>;
      s.phase = phase;
      s.hostIP = '192.168.49.2';
      s.hostIPs = [{ ip: '192.168.49.2' }];
      s.podIP = this.podIP;
      s.podIPs = [{ ip: this.podIP }];
      s.startTime = this.startTime;
      if (this.podReason) {
        s.reason = this.podReason;
        s.message = this.podMessage;
      }
      setCondition(p, {
        type: 'PodReadyToStartContainers',
        status: terminal && this.finished ? 'False' : 'True',
      });
      setCondition(
        p,
        incompleteInits.length
          ? {
              type: 'Initialized',
              status: 'False',
              reason: 'ContainersNotInitialized',
              message: `containers with incomplete status: [${incompleteInits.join(' ')}]`,
            }
          : { type: 'Initialized', status: 'True' },
      );
      const ready = !terminal && unready.length === 0;
      const notReady = terminal
        ? { reason: 'PodCompleted' }
        : { reason: 'ContainersNotReady', message: `containers with unready status: [${unready.join(' ')}]` };
      setCondition(
        p,
        ready
          ? { type: 'ContainersReady', status: 'True' }
          : { type: 'ContainersReady', status: 'False', ...notReady },
      );
      setCondition(
        p,
        ready ? { type: 'Ready', status: 'True' } : { type: 'Ready', status: 'False', ...notReady },
      );
      if (this.inits.length) s.initContainerStatuses = this.inits.map(status);
      s.containerStatuses = this.apps.map(status);
      s.qosClass = s.qosClass ?? 'BestEffort';
    });
  }
}

class ContainerConfigError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** Kubernetes $(VAR) expansion in env values, command and args; $$ escapes a literal $. */
function expand(s: string, env: Record<string, string>): string {
  return s.replace(/\$\$|\$\(([-._a-zA-Z][-._a-zA-Z0-9]*)\)/g, (m, name: string | undefined) =>
    m === '$$' ? '$' : name !== undefined && name in env ? env[name]! : m,
  );
}

function fieldRef(fieldPath: string, pod: KObject | undefined, w: PodWorker): string {
  const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
  if (m) return pod?.metadata[m[1] as 'labels' | 'annotations']?.[m[2]!] ?? '';
  const values: Record<string, string> = {
    'metadata.name': w.name,
    'metadata.namespace': w.namespace,
    'metadata.uid': w.uid,
    'spec.nodeName': w.nodeName,
    'spec.serviceAccountName': w.spec.serviceAccountName ?? 'default',
    'status.podIP': w.podIPAddress,
    'status.podIPs': w.podIPAddress,
    'status.hostIP': '192.168.49.2',
    'status.hostIPs': '192.168.49.2',
  };
  return values[fieldPath] ?? '';
}

function tail(logs: LogBuffer): string {
  const text = logs.current
    .slice(-80)
    .map((l) => l.text)
    .join('');
  return text.length > 2048 ? text.slice(-2048) : text;
}

export class Kubelet {
  private readonly workers = new Map<string, PodWorker>();
  private readonly pulled = new Map<string, Set<string>>();

  constructor(readonly opts: KubeletOptions) {
    mkdirSync(opts.workDir, { recursive: true });
    opts.store.onChange((c) => {
      if (c.resource !== 'pods') return;
      const uid = c.object.metadata.uid!;
      const spec = c.object.spec as PodSpec;
      if (c.type === 'DELETED') {
        const w = this.workers.get(uid);
        if (w) void this.teardown(w, 0);
        return;
      }
      const w = this.workers.get(uid);
      if (!w && spec.nodeName && !c.object.metadata.deletionTimestamp) {
        const phase = (c.object.status as { phase?: string } | undefined)?.phase;
        if (phase === 'Succeeded' || phase === 'Failed') return;
        if (!opts.store.get('nodes', undefined, spec.nodeName)) return; // no kubelet on unknown nodes
        const worker = new PodWorker(
          this,
          c.object.metadata.namespace!,
          c.object.metadata.name,
          uid,
          spec,
          spec.nodeName,
        );
        this.workers.set(uid, worker);
        setImmediate(() => {
          worker.run().catch((err: unknown) => {
            console.error('fake-kube kubelet:', err);
          });
        });
      } else if (w && c.object.metadata.deletionTimestamp && !c.previous?.metadata.deletionTimestamp) {
        void this.gracefulDelete(w, c.object.metadata.deletionGracePeriodSeconds ?? 30);
      }
    });
  }

  pulledImages(node: string): Set<string> {
    let s = this.pulled.get(node);
    if (!s) {
      s = new Set();
      this.pulled.set(node, s);
    }
    return s;
  }

  worker(namespace: string, name: string): PodWorker | undefined {
    const pod = this.opts.store.get('pods', namespace, name);
    return pod ? this.workers.get(pod.metadata.uid!) : undefined;
  }

  /** Graceful deletion: stop containers, report final status, then remove the object (DELETED). */
  private async gracefulDelete(w: PodWorker, graceSeconds: number): Promise<void> {
    await w.terminate(graceSeconds);
    const pod = this.opts.store.get('pods', w.namespace, w.name);
    if (pod?.metadata.uid === w.uid) this.opts.store.remove('pods', w.namespace, w.name);
  }

  /** The object is gone (grace 0 or after graceful deletion): kill anything left and free the disk. */
  private async teardown(w: PodWorker, graceSeconds: number): Promise<void> {
    await w.terminate(graceSeconds);
    this.workers.delete(w.uid);
    // A killed container's last writes can land while the tree is removed (ENOTEMPTY): rmSync retries.
    rmSync(w.dir, { recursive: true, force: true, maxRetries: 5 });
  }

  evict(w: PodWorker, message: string): Promise<void> {
    w.podReason = 'Evicted';
    w.podMessage = message;
    this.opts.store.update('pods', w.namespace, w.name, (p) => {
      setCondition(p, { type: 'DisruptionTarget', status: 'True', reason: 'TerminationByKubelet', message });
    });
    const pod = this.opts.store.get('pods', w.namespace, w.name);
    if (pod)
      this.opts.events.record(pod, 'Warning', 'Evicted', message, { component: 'kubelet', host: w.nodeName });
    return w.terminate(0);
  }

  /** The log buffer pods/log reads, or the 400 a real kubelet answers for a container with no logs yet. */
  logSource(pod: KObject, container: string, previous: boolean): LogBuffer {
    const w = this.workers.get(pod.metadata.uid!);
    const spec = pod.spec as PodSpec;
    if (!spec.nodeName) throw badRequest(`pod ${pod.metadata.name} does not have a host assigned`);
    const c = w?.containers.get(container);
    if (!c)
      throw badRequest(
        `container "${container}" in pod "${pod.metadata.name}" is waiting to start: ContainerCreating`,
      );
    if (previous) {
      if (!c.previousLogs)
        throw badRequest(
          `previous terminated container "${container}" in pod "${pod.metadata.name}" not found`,
        );
      return c.previousLogs;
    }
    if (!c.everRan && 'waiting' in c.state) {
      const reason = c.state.waiting.reason;
      const text =
        reason === 'ErrImagePull'
          ? "image can't be pulled"
          : reason === 'ImagePullBackOff'
            ? 'trying and failing to pull image'
            : reason;
      throw badRequest(`container "${container}" in pod "${pod.metadata.name}" is waiting to start: ${text}`);
    }
    if (!c.everRan && 'terminated' in c.state) {
      throw badRequest(`container "${container}" in pod "${pod.metadata.name}" is terminated`);
    }
    return c.logs;
  }

  async close(): Promise<void> {
    await Promise.all([...this.workers.values()].map((w) => this.teardown(w, 0)));
    rmSync(this.opts.workDir, { recursive: true, force: true, maxRetries: 5 });
  }
}

export { ApiError };

/** Writes the image's files into a container's root; returns the top-level directories they are in. */
function writeImageFiles(rootfs: string, img: ImageConfig): string[] {
  const dirs = new Set<string>();
  for (const [file, spec] of Object.entries(img.files ?? {})) {
    const rel = path.posix.normalize(file).replace(/^\/+/, '');
    if (!path.posix.isAbsolute(file) || rel === '' || rel.startsWith('..'))
      throw new Error(`fake-kube: image file ${JSON.stringify(file)} must be an absolute path`);
    const { content, mode } = typeof spec === 'string' ? { content: spec, mode: 0o755 } : spec;
    const at = path.join(rootfs, rel);
    mkdirSync(path.dirname(at), { recursive: true });
    writeFileSync(at, content, { mode: mode ?? 0o644 });
    chmodSync(at, mode ?? 0o644);
    dirs.add(rel.split('/')[0]!);
  }
  return [...dirs];
}
