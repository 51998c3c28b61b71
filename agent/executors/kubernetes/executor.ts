// The kubernetes executor: one Pod per step in the pool's namespace (pod.ts builds it), driven by the
// pool's pod watch (watch.ts) and read by reasons.ts; inputs, outputs and caches move through helper
// containers on the pool's data path (data-path.ts, step-data.ts), the log is followed from the step's
// container (logs.ts).
import { ErroredStep } from '../errored-step.js';
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { KubeConfig, V1Pod, V1Secret } from '@kubernetes/client-node';
import { ArchiveError, pack, unpack, type PackedArchive } from '../../artifacts/archive.js';
import {
  parseHeldResource,
  type Admission,
  type ExecResult,
  type ExecStep,
  type Executor,
  type HeldResource,
  type InterceptCommand,
  type LogCheckpoint,
  type LogData,
  type RunningStep,
  type StepTerminal,
  type TerminalOutput,
} from '../executor.js';
import { execTerminal } from './intercept.js';
import { describe, KubeApi, loadKubeConfig, statusOf } from './client.js';
import { followLog, parsePosition } from './logs.js';
import {
  ANNOTATION,
  buildPod,
  INPUTS_CONTAINER,
  LABEL,
  labelsFor,
  labelValue,
  OUTPUTS_CONTAINER,
  ownSelector,
  podNameFor,
  PodSpecError,
  STEP_CONTAINER,
} from './pod.js';
import { podImage } from './image.js';
import type { DataEndpoint } from './data-endpoint.js';
import { dataTokenOf, TransferError, withDataToken, type PodTransfer } from './data-path.js';
import { buildInputsTar, fetchUploads, keepCache, uploadsOf, type InputsTar } from './step-data.js';
import { PendingClock, type PendingPhase } from './pending.js';
import { viewPod } from './reasons.js';
import { buildStepSecret, isPullSecret, podOwnerReference, redactOf, secretNameFor } from './secrets.js';
import type { KubernetesPoolSettings } from './settings.js';
import { ConnectionCut, sendTar } from './streams.js';
import {
  initialState,
  logFinished,
  next,
  startedOrEnded,
  type StepEvent,
  type StepState,
} from './step-state.js';
import { sweep } from './sweeper.js';
import { PodWatcher, type PodEvent } from './watch.js';

export interface KubernetesExecutorOptions {
  settings: KubernetesPoolSettings;
  /** The agent's name: a label on every pod, so each agent finds (and sweeps) only its own. */
  agent: string;
  /** Scratch space for input archives on their way into a pod. */
  workRoot: string;
  /** Default: from settings (a kubeconfig file, else in-cluster). */
  kubeConfig?: KubeConfig;
  /** API problems the executor survives (a broken watch); default: ignored. */
  onError?: (err: unknown) => void;
  /** The agent's log: pending phases and reasons, admission problems. Default: none. */
  log?: KubeLog;
  /** A log follow silent this long is re-opened (logs.ts); default 60 s. */
  logIdleMs?: number;
  /** The agent's data endpoint: required by `data_path: agent` pools, unused by `api` ones. */
  dataEndpoint?: DataEndpoint;
}

/** The part of the agent's (pino) logger the executor writes to. */
export interface KubeLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

const NO_LOG: KubeLog = { info: () => undefined, warn: () => undefined };

// A step the timeout should have ended (activeDeadlineSeconds) gets this long before we end it ourselves.
const DEADLINE_SLACK_MS = 5_000;

interface Deps {
  api: KubeApi;
  settings: KubernetesPoolSettings;
  watcher: PodWatcher;
  log: KubeLog;
  logIdleMs: number | undefined;
  /** Set exactly on the `agent` data path. */
  endpoint: DataEndpoint | undefined;
}

/** How often at most a step's pod is annotated with how far the hub stored its log. */
const LOG_STORED_EVERY_MS = 2_000;

/** end()'s second argument: the pod goes too. */
const DELETE = 'delete-pod';

/** How long collecting outputs waits for the outputs helper container to start. */
const OUTPUTS_HELPER_START_MS = 60_000;

export class KubernetesExecutor implements Executor {
  readonly kind = 'kubernetes';
  readonly runsImages = true;
  private readonly deps: Deps;
  private readonly selector: string;

  constructor(private readonly opts: KubernetesExecutorOptions) {
    const kc = opts.kubeConfig ?? loadKubeConfig(opts.settings);
    const api = new KubeApi(kc, opts.settings.namespace);
    this.selector = ownSelector(opts.settings, opts.agent);
    const watcher = new PodWatcher(api, this.selector, opts.onError ?? (() => undefined));
    const agentPath = opts.settings.dataPath === 'agent';
    if (agentPath && !opts.dataEndpoint)
      throw new Error(`pool "${opts.settings.pool}": data_path agent needs the agent's data_endpoint`);
    this.deps = {
      api,
      settings: opts.settings,
      watcher,
      log: opts.log ?? NO_LOG,
      logIdleMs: opts.logIdleMs,
      endpoint: agentPath ? opts.dataEndpoint : undefined,
    };
    this.admission = probeAdmission(this.deps, opts.agent);
  }

  /**
   * At pool start, a dry-run create of a pod like every step's: whether admission (Pod Security,
   * ResourceQuota, LimitRange, RBAC, webhooks) accepts it, else its refusal in the API server's words.
   * Also in the agent log.
   */
  readonly admission: Promise<Admission>;

  async start(step: ExecStep): Promise<RunningStep> {
    const { settings, endpoint } = this.deps;
    const podName = podNameFor(step);
    const labels = labelsFor(step, settings, this.opts.agent);
    const scratch = path.join(this.opts.workRoot, labelValue(step.leaseId) || randomUUID());
    const image = await podImage(step, settings, scratch);
    if (typeof image === 'string') {
      await rm(scratch, { recursive: true, force: true });
      return new ErroredStep(step.leaseId, image);
    }
    const meta = { name: secretNameFor(podName), namespace: settings.namespace, labels };
    let secret = buildStepSecret(step, meta, image.credentials);
    const pullSecret = isPullSecret(secret) ? secretNameFor(podName) : image.pullSecret;
    const ids = {
      podName,
      agent: this.opts.agent,
      image: image.reference,
      ...(pullSecret ? { pullSecret } : {}),
    };
    let pod: V1Pod;
    let inputs: InputsTar;
    try {
      // Checked before the inputs are built: a step the pool refuses costs no copying.
      buildPod(step, settings, ids);
      inputs = await buildInputsTar(step, scratch);
      const transfer: PodTransfer = { inputs };
      if (endpoint) {
        const token = endpoint.grant(step.leaseId, inputs);
        secret = withDataToken(secret, meta, token);
        transfer.agent = { url: endpoint.stepUrl(step.leaseId), secret: meta.name };
      }
      pod = buildPod(step, settings, { ...ids, transfer });
    } catch (err) {
      await rm(scratch, { recursive: true, force: true });
      if (err instanceof PodSpecError) return new ErroredStep(step.leaseId, err.message);
      if (err instanceof ArchiveError) return new ErroredStep(step.leaseId, `input: ${err.message}`);
      throw err;
    }
    const running = new KubeStep(this.deps, {
      leaseId: step.leaseId,
      podName,
      secretName: secret ? secretNameFor(podName) : undefined,
      outputs: step.outputs,
      caches: step.caches ?? [],
      timeoutMs: step.timeoutMs,
      createdAt: Date.now(),
      inputsTar: inputs,
      scratch,
      helper: hasHelper(pod),
      redact: step.redact ?? [],
      // Kept in the pod's annotations (pod.ts); read back only by reattach().
      resource: undefined,
      resumedLog: undefined,
    });
    await running.launch(pod, secret);
    return running;
  }

  async listHeld(): Promise<string[]> {
    const { pods } = await this.deps.api.listPods(this.selector);
    return pods.flatMap((p) => {
      const lease = p.metadata?.annotations?.[ANNOTATION.lease];
      return lease && !p.metadata?.deletionTimestamp ? [lease] : [];
    });
  }

  async reattach(leaseId: string): Promise<RunningStep | undefined> {
    const { pods } = await this.deps.api.listPods(`${this.selector},${LABEL.lease}=${labelValue(leaseId)}`);
    const pod = pods.find((p) => p.metadata?.annotations?.[ANNOTATION.lease] === leaseId);
    const podName = pod?.metadata?.name;
    if (!pod || !podName || pod.metadata?.deletionTimestamp) return undefined;
    const annotations = pod.metadata?.annotations ?? {};
    const outputs = JSON.parse(annotations[ANNOTATION.outputs] ?? '[]') as ExecStep['outputs'];
    const secret = await this.deps.api.readSecret(secretNameFor(podName));
    // The pod still holds its token: its outputs can be pushed to this agent process too.
    const token = dataTokenOf(secret);
    if (token) this.deps.endpoint?.grant(leaseId, undefined, token);
    const created = pod.metadata?.creationTimestamp;
    const running = new KubeStep(this.deps, {
      leaseId,
      podName,
      secretName: secret ? secretNameFor(podName) : undefined,
      outputs,
      // The cache directories were the previous agent process's: this build's caches are not kept.
      caches: [],
      timeoutMs: Number(annotations[ANNOTATION.timeoutMs] ?? 0),
      createdAt: created ? new Date(created).getTime() : Date.now(),
      inputsTar: undefined,
      scratch: undefined,
      helper: hasHelper(pod),
      redact: redactOf(secret),
      resource: parseHeldResource(parseJson(annotations[ANNOTATION.resource])),
      resumedLog: parseLogStored(annotations[ANNOTATION.logStored]),
    });
    running.resume(pod);
    return running;
  }

  async sweep(keep: Set<string>): Promise<void> {
    await sweep(this.deps.api, this.selector, keep);
  }
}

async function probeAdmission(deps: Deps, agent: string): Promise<Admission> {
  const { settings, api, log } = deps;
  const probe: ExecStep = {
    leaseId: 'admission-probe',
    run: { path: 'true', args: [], dir: '', user: '' },
    env: {},
    inputs: [],
    outputs: [{ name: 'probe', path: 'probe' }],
    timeoutMs: 0,
    privileged: false,
  };
  // Nothing is stored: the name only has to be valid.
  const pod = buildPod(probe, settings, { podName: 'outpost-admission-probe', agent });
  try {
    await api.dryRunCreatePod(pod);
    log.info({ namespace: settings.namespace }, "admission accepts the pool's pods (dry run)");
    return { verdict: 'admitted', message: '' };
  } catch (err) {
    const status = statusOf(err);
    const message = describe(err);
    // 403: Pod Security, quota, RBAC; 422/400: LimitRange, validation, webhooks.
    if (status === 403 || status === 422 || status === 400) {
      log.warn(
        { namespace: settings.namespace, status, message },
        "admission rejects the pool's pods (dry run)",
      );
      return { verdict: 'refused', message };
    }
    log.warn({ namespace: settings.namespace, err: message }, 'cannot check admission (dry run)');
    return { verdict: 'unknown', message: `cannot check: ${message}` };
  }
}

function parseLogStored(text: string | undefined): LogCheckpoint | undefined {
  const [, seq, position] = /^(\d+) (.+)$/.exec(text ?? '') ?? [];
  if (seq === undefined || position === undefined || !parsePosition(position)) return undefined;
  return { seq: Number(seq), position };
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

interface StepFacts {
  leaseId: string;
  podName: string;
  secretName: string | undefined;
  outputs: ExecStep['outputs'];
  /** Task caches to send back after the step (their `dir` keeps them). */
  caches: NonNullable<ExecStep['caches']>;
  timeoutMs: number;
  createdAt: number;
  /** undefined on a reattached step: its inputs were delivered by the previous agent process. */
  inputsTar: InputsTar | undefined;
  scratch: string | undefined;
  redact: string[];
  /** A reattached resource step from an image: what the runner needs to read its response. */
  resource: HeldResource | undefined;
  /** A reattached step: the pod's log-stored annotation, where its log goes on. */
  resumedLog: LogCheckpoint | undefined;
  /** The pod has the `outputs` helper, which outlives the step's container (pod.ts). */
  helper: boolean;
}

const hasHelper = (pod: V1Pod): boolean =>
  pod.spec?.containers.some((c) => c.name === OUTPUTS_CONTAINER) ?? false;

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

class KubeStep implements RunningStep {
  readonly leaseId: string;
  readonly redact: readonly string[];
  readonly resumedResource: HeldResource | undefined;
  readonly resumedLog: LogCheckpoint | undefined;
  private readonly api: KubeApi;
  private readonly settings: KubernetesPoolSettings;
  /** Where the step is (step-state.ts): changed only through apply(). */
  private state: StepState;
  private readonly endedSignal = deferred<ExecResult>();
  /** The step's container started (it has a log) or the step ended without it. */
  private readonly startedOrEnded = deferred<undefined>();
  private readonly logsDone = deferred<undefined>();
  private inputsStderr = '';
  private readonly pending: PendingClock;
  private pendingTimer: NodeJS.Timeout | undefined;
  private pullFailingSince: number | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private unsubscribe: (() => void) | undefined;
  private readonly result: Promise<ExecResult>;
  /** The log-stored annotation: the newest checkpoint, the one written, and the write's pacing. */
  private readonly logMark: {
    latest: LogCheckpoint | undefined;
    written: LogCheckpoint | undefined;
    writing: boolean;
    lastWrite: number;
    timer: NodeJS.Timeout | undefined;
  } = { latest: undefined, written: undefined, writing: false, lastWrite: 0, timer: undefined };

  constructor(
    private readonly deps: Deps,
    private readonly s: StepFacts,
  ) {
    this.leaseId = s.leaseId;
    this.redact = s.redact;
    this.resumedResource = s.resource;
    this.resumedLog = s.resumedLog;
    this.api = deps.api;
    this.settings = deps.settings;
    // On the `agent` data path the pod fetches its inputs itself.
    this.state = initialState(s.inputsTar === undefined || deps.endpoint !== undefined);
    this.result = this.endedSignal.promise.then(async (r) => {
      if (this.state.started) await this.logsDone.promise;
      return r;
    });
    const sinceCreated = Date.now() - s.createdAt;
    this.pending = new PendingClock(s.createdAt);
    this.armPendingTimeout();
    if (s.timeoutMs > 0) {
      this.timers.push(
        setTimeout(
          () => this.end({ status: 'failed', exitStatus: -1, error: 'timeout exceeded' }, DELETE),
          Math.max(0, s.timeoutMs + DEADLINE_SLACK_MS - sinceCreated),
        ),
      );
    }
  }

  private get namespace(): string {
    return this.settings.namespace;
  }

  /**
   * Ends the step once scheduling and image pulls took the pool's pending timeout; time spent
   * transferring inputs does not count (the timer is re-armed when the transfer is over).
   */
  private armPendingTimeout(): void {
    clearTimeout(this.pendingTimer);
    const budgetMs = this.settings.pendingTimeoutSeconds * 1000;
    this.pendingTimer = setTimeout(
      () => {
        if (this.state.life !== 'pending') return;
        const { phase, reason } = this.pending.current;
        if (phase === 'input-transfer') return;
        if (this.pending.counted() < budgetMs) return this.armPendingTimeout();
        this.end(
          {
            status: 'errored',
            exitStatus: -1,
            error: `the pod did not start within ${this.settings.pendingTimeoutSeconds}s (pending timeout): ${reason}`,
          },
          DELETE,
        );
      },
      Math.max(0, budgetMs - this.pending.counted()),
    );
  }

  /** Records where the pod waits; the agent log shows each new phase or reason as it happens. */
  private setPending(phase: PendingPhase, reason: string): void {
    const was = this.pending.current.phase;
    if (!this.pending.update(phase, reason)) return;
    this.deps.log.info({ lease: this.leaseId, pod: this.s.podName, phase, reason }, 'step pending');
    if (was === 'input-transfer' && phase !== 'input-transfer') this.armPendingTimeout();
  }

  /** Creates the Secret and the Pod; a refusal by the API ends the step 'errored' with its words. */
  async launch(pod: V1Pod, secret: V1Secret | undefined): Promise<void> {
    this.subscribe();
    try {
      if (secret) await this.api.createSecret(secret);
      const created = await this.api.createPod(pod);
      if (secret) await this.ownSecret(created);
    } catch (err) {
      this.apply({ type: 'pod-gone' });
      this.end({
        status: 'errored',
        exitStatus: -1,
        error: `cannot create the step's pod: ${describe(err)}`,
      });
      if (this.s.secretName) await this.api.deleteSecret(this.s.secretName).catch(() => undefined);
    }
  }

  /** Makes the step's Secret the pod's, so it goes with the pod; without it the agent's deletes still apply. */
  private async ownSecret(pod: V1Pod): Promise<void> {
    const owner = podOwnerReference(pod);
    if (!owner || !this.s.secretName) return;
    await this.api
      .setSecretOwners(this.s.secretName, [owner])
      .catch((err: unknown) =>
        this.deps.log.warn(
          { lease: this.leaseId, secret: this.s.secretName, err: describe(err) },
          "could not make the step's Secret owned by its pod (RBAC: secrets patch)",
        ),
      );
  }

  /** A reattached step: follow the pod from its current state. */
  resume(pod: V1Pod): void {
    const init = pod.status?.initContainerStatuses?.find((c) => c.name === INPUTS_CONTAINER);
    const took = init?.state?.terminated;
    if (took?.startedAt && took.finishedAt)
      this.pending.creditTransfer(new Date(took.finishedAt).getTime() - new Date(took.startedAt).getTime());
    if (init?.state?.terminated?.exitCode !== 0) {
      // The inputs lived on the previous agent process's disk.
      this.end(
        {
          status: 'errored',
          exitStatus: -1,
          error: "the agent restarted before the step's inputs reached its pod",
        },
        DELETE,
      );
    }
    this.subscribe();
    this.onEvent({ type: 'update', pod });
  }

  private subscribe(): void {
    this.unsubscribe ??= this.deps.watcher.subscribe(this.s.podName, (e) => this.onEvent(e));
  }

  private onEvent(e: PodEvent): void {
    if (e.type === 'deleted') {
      this.apply({ type: 'pod-gone' });
      this.end({
        status: 'errored',
        exitStatus: -1,
        error: 'the pod was deleted by someone else before the step ended',
      });
      return;
    }
    const pod = e.pod;
    if (pod.metadata?.deletionTimestamp && this.state.pod === 'exists') {
      this.end({
        status: 'errored',
        exitStatus: -1,
        error: 'the pod was deleted by someone else before the step ended',
      });
    }
    const view = viewPod(pod);
    if (view.state !== 'pull-failing') this.pullFailingSince = undefined;
    switch (view.state) {
      case 'pending':
        this.setPending(view.phase, view.reason);
        return;
      case 'pull-failing':
        this.setPending('image-pull', `pulling image ${view.image}: ${view.message}`);
        this.onPullFailing(view.image, view.message);
        return;
      case 'inputs':
        this.setPending('input-transfer', 'receiving inputs');
        if (this.state.inputs === 'waiting') void this.sendInputs();
        return;
      case 'running':
        this.markStarted();
        return;
      case 'ended': {
        if (view.started) this.markStarted();
        this.apply({ type: 'container-terminated' });
        let result = view.result;
        if (
          (view.cause === 'inputs-rejected' || view.cause === 'inputs-transfer') &&
          this.inputsStderr &&
          !result.error?.includes(this.inputsStderr)
        )
          result = { ...result, error: `${result.error}: ${this.inputsStderr}` };
        this.end(result);
        return;
      }
    }
  }

  private onPullFailing(image: string, message: string): void {
    const now = Date.now();
    const graceMs = this.settings.imagePullGraceSeconds * 1000;
    const fail = () =>
      this.end(
        { status: 'errored', exitStatus: -1, error: `image pull failed: ${image}: ${message}` },
        DELETE,
      );
    if (this.pullFailingSince === undefined) {
      this.pullFailingSince = now;
      // Re-checked when the grace is over, in case no further pod update comes.
      this.timers.push(
        setTimeout(() => {
          if (this.pullFailingSince !== undefined) fail();
        }, graceMs),
      );
    } else if (now - this.pullFailingSince >= graceMs) fail();
  }

  private markStarted(): void {
    if (this.state.started) return;
    this.apply({ type: 'started' });
    clearTimeout(this.pendingTimer);
    const took = this.pending.durations();
    this.deps.log.info(
      {
        lease: this.leaseId,
        pod: this.s.podName,
        schedulingMs: took.scheduling,
        imagePullMs: took['image-pull'],
        inputTransferMs: took['input-transfer'],
      },
      'step started',
    );
  }

  /**
   * `api` path: the inputs tar on the helper's stdin. A connection that drops midway ends the step
   * here (the pod is deleted), whether or not the helper, which checks size and sha256, notices first.
   */
  private async sendInputs(): Promise<void> {
    this.apply({ type: 'inputs-sending' });
    const tar = this.s.inputsTar;
    try {
      this.inputsStderr = await sendTar(
        this.api.kc,
        this.namespace,
        this.s.podName,
        INPUTS_CONTAINER,
        tar?.file ?? '',
      );
      this.apply({ type: 'inputs-sent' });
    } catch (err) {
      const why =
        err instanceof ConnectionCut
          ? new TransferError('cut', `sent ${err.bytes} of ${tar?.size ?? 0} bytes, then ${err.message}`)
              .message
          : `cannot send them to the pod: ${describe(err)}`;
      this.end({ status: 'errored', exitStatus: -1, error: `inputs: ${why}` }, DELETE);
    }
  }

  /** Moves the state on, and settles what waits for the transitions it made. */
  private apply(e: StepEvent): void {
    const was = this.state;
    this.state = next(was, e);
    if (startedOrEnded(this.state) && !startedOrEnded(was)) this.startedOrEnded.resolve(undefined);
    if (this.state.result && !was.result) {
      for (const t of this.timers) clearTimeout(t);
      clearTimeout(this.pendingTimer);
      this.endedSignal.resolve(this.state.result);
    }
  }

  /** Records the step's ending (the first one wins); with DELETE, also deletes the pod (gracefully). */
  private end(result: ExecResult, then?: typeof DELETE): void {
    if (this.state.result) return;
    this.apply({ type: 'ended', result });
    if (then === DELETE) void this.deletePod();
  }

  /** `graceSeconds` undefined: the pod's own grace period. */
  private async deletePod(graceSeconds?: number): Promise<void> {
    this.apply({ type: 'deleting' });
    await this.api.deletePod(this.s.podName, graceSeconds).catch(() => undefined);
  }

  logs(): AsyncIterable<LogData> {
    return this.follow();
  }

  private async *follow(): AsyncGenerator<LogData> {
    try {
      await this.startedOrEnded.promise;
      if (!this.state.started) return;
      yield* followLog({
        kc: this.api.kc,
        namespace: this.namespace,
        pod: this.s.podName,
        container: STEP_CONTAINER,
        finished: () => logFinished(this.state),
        ...(this.deps.logIdleMs !== undefined ? { idleMs: this.deps.logIdleMs } : {}),
        ...(this.resumedLog ? { after: this.resumedLog.position } : {}),
      });
    } finally {
      this.logsDone.resolve(undefined);
    }
  }

  /**
   * Keeps the newest checkpoint of the log the hub stored in the pod's annotation, at most every
   * LOG_STORED_EVERY_MS: after an agent restart the log goes on from there (a rotated log no longer
   * has its beginning). A lagging annotation costs a replay of what the hub already has, never a gap.
   */
  logStored(checkpoint: LogCheckpoint): void {
    if (checkpoint.seq <= (this.logMark.latest?.seq ?? this.resumedLog?.seq ?? 0)) return;
    this.logMark.latest = checkpoint;
    this.scheduleLogMark();
  }

  private scheduleLogMark(): void {
    if (this.logMark.writing || this.logMark.timer) return;
    const wait = this.logMark.lastWrite + LOG_STORED_EVERY_MS - Date.now();
    if (wait > 0) this.logMark.timer = setTimeout(() => void this.writeLogMark(), wait);
    else void this.writeLogMark();
  }

  private async writeLogMark(): Promise<void> {
    this.logMark.timer = undefined;
    const mark = this.logMark.latest;
    if (!mark || mark === this.logMark.written || this.state.life === 'cleaned') return;
    this.logMark.writing = true;
    this.logMark.lastWrite = Date.now();
    try {
      await this.api.annotatePod(this.s.podName, {
        [ANNOTATION.logStored]: `${mark.seq} ${mark.position}`,
      });
      this.logMark.written = mark;
    } catch {
      // The pod is gone, or the API is down: the next acknowledgement tries again.
    } finally {
      this.logMark.writing = false;
    }
    if (this.logMark.latest !== mark) this.scheduleLogMark();
  }

  wait(): Promise<ExecResult> {
    return this.result;
  }

  async abort(graceMs: number, _reason: string): Promise<void> {
    if (this.state.result) return;
    this.end({ status: 'aborted', exitStatus: -1, error: 'interrupted' });
    await this.deletePod(Math.ceil(graceMs / 1000));
  }

  async collectOutputs(dir: string, maxBytes: number): Promise<{ name: string; archive: PackedArchive }[]> {
    const uploads = uploadsOf(this.s, this.settings, maxBytes);
    if (uploads.length === 0 || this.state.result?.status === 'aborted') return [];
    const pod = await this.api.readPod(this.s.podName);
    const phase = pod?.status?.phase;
    // A pod the deadline or an eviction ended has no helper left to read from.
    if (!pod || phase === 'Failed' || phase === 'Succeeded' || pod.metadata?.deletionTimestamp) return [];
    await this.outputsHelperRunning(pod);
    const src = {
      kc: this.api.kc,
      pool: this.settings,
      pod: this.s.podName,
      lease: this.leaseId,
      endpoint: this.deps.endpoint,
    };
    const raws = await fetchUploads(src, uploads, dir);
    const packed: { name: string; archive: PackedArchive }[] = [];
    try {
      for (const [i, output] of this.s.outputs.entries()) {
        const raw = raws[i];
        if (typeof raw !== 'string') throw new Error(`output "${output.name}": ${raw?.message ?? 'missing'}`);
        // Re-packed here: the same portable format (and digest for the same files) as every executor.
        const staging = path.join(dir, `${randomUUID()}.d`);
        const file = path.join(dir, `${randomUUID()}.tar`);
        try {
          await unpack(raw, staging);
          packed.push({ name: output.name, archive: await pack(staging, file, maxBytes) });
        } catch (err) {
          await rm(file, { force: true });
          throw new Error(`output "${output.name}": ${describe(err)}`, { cause: err });
        } finally {
          await rm(staging, { recursive: true, force: true });
        }
      }
      await this.keepCaches(raws.slice(this.s.outputs.length));
    } catch (err) {
      for (const p of packed) await rm(p.archive.file, { force: true });
      throw err;
    } finally {
      for (const raw of raws) if (typeof raw === 'string') await rm(raw, { force: true });
    }
    return packed;
  }

  /** A cache that did not come back whole is not kept: the next build starts from the older one. */
  private async keepCaches(raws: (string | Error)[]): Promise<void> {
    for (const [i, cache] of this.s.caches.entries()) {
      const raw = raws[i];
      if (typeof raw === 'string') await keepCache(raw, cache.dir);
      else
        this.deps.log.warn(
          { lease: this.leaseId, cache: cache.path, err: raw?.message },
          'task cache not kept',
        );
    }
  }

  /**
   * A quick step can end before the outputs helper container has started (it starts alongside the
   * step's own): exec into it only once it runs, or say why it never did.
   */
  private async outputsHelperRunning(first: V1Pod): Promise<void> {
    const deadline = Date.now() + OUTPUTS_HELPER_START_MS;
    for (let pod: V1Pod | undefined = first; ; pod = await this.api.readPod(this.s.podName)) {
      const status = pod?.status?.containerStatuses?.find((c) => c.name === OUTPUTS_CONTAINER);
      if (status?.state?.running) return;
      const why = status?.state?.terminated?.reason ?? status?.state?.waiting?.reason;
      if (!pod || status?.state?.terminated || Date.now() > deadline) {
        throw new Error(`outputs: the helper container is not running${why ? ` (${why})` : ''}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /**
   * `outpost intercept` (intercept.ts): an exec into the step's container while it runs; once it
   * failed (the runner keeps such a step for its pool's keep_failed_steps_for), into the pod's
   * helper, which outlives it with the same workspace, directory and environment.
   */
  intercept(command: InterceptCommand, output: TerminalOutput): Promise<StepTerminal> {
    const where = { namespace: this.namespace, pod: this.s.podName, container: STEP_CONTAINER };
    if (this.state.life === 'running' && this.state.container === 'alive')
      return execTerminal(this.api.kc, where, command, output);
    const failed = this.state.life === 'ended' && this.state.result?.status === 'failed';
    if (failed && this.s.helper && this.state.pod === 'exists')
      return execTerminal(this.api.kc, { ...where, container: OUTPUTS_CONTAINER }, command, output);
    return Promise.reject(
      new Error(
        failed
          ? `the step's container in pod ${this.s.podName} has ended, and the pod has no helper left to enter`
          : `the step's container in pod ${this.s.podName} is not running`,
      ),
    );
  }

  async cleanup(): Promise<void> {
    if (this.state.life === 'cleaned') return;
    clearTimeout(this.logMark.timer);
    for (const t of this.timers) clearTimeout(t);
    clearTimeout(this.pendingTimer);
    this.end({ status: 'aborted', exitStatus: -1, error: 'cleaned up' });
    this.apply({ type: 'cleaned' });
    await this.deletePod();
    if (this.s.secretName) await this.api.deleteSecret(this.s.secretName).catch(() => undefined);
    if (this.s.scratch) await rm(this.s.scratch, { recursive: true, force: true });
    this.deps.endpoint?.revoke(this.leaseId);
    this.unsubscribe?.();
  }
}
