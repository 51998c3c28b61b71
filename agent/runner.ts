// Runs leased steps on the agent's executors and holds what the hub has not acknowledged. It knows
// the session only as an Outbox per connection, so a reconnect never touches a running step.

import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import type {
  Assign,
  Finished,
  HeldStep as WireHeldStep,
  HeldStepDecision,
  ImageRef,
} from '../proto/gen/outpost/v1/agent.js';
import { LeaseDecision } from '../proto/gen/outpost/v1/agent.js';
import { statusToWire, streamToWire } from '../common/wire-enums.js';
import { buildName } from '../common/build-name.js';
import type {
  ExecResult,
  ExecStep,
  Executor,
  InterceptCommand,
  RunningStep,
  StepImage,
  StepTerminal,
  TerminalOutput,
} from './executors/executor.js';
import type { ImageRootfs, RootfsCache } from './images/rootfs-cache.js';
import { localTerminal } from './intercept/local-terminal.js';
import type { ArtifactTransfer } from './artifacts/transfer.js';
import { Redactor } from './redact.js';
import type { TaskCaches } from './task-caches.js';
import { HeldStep, type Outbox } from './session/held-step.js';
import { DEFAULT_LEASE_GRACE_MS, HubLink, deliver, type DeliveryContext } from './session/outages.js';
import { chunksOf, splitAtCharBoundary } from './session/utf8.js';
import type { AgentMetrics } from './metrics.js';
import {
  BuiltinResourceExecutor,
  execResourceFromWire,
  refusing,
  resourceExecutorFor,
  resumeImageResource,
  type ImageResourceOptions,
} from './resources/index.js';
import { BUILTIN_TYPES } from './resources/builtin-types.js';
import { StepTimeline } from './step-timeline.js';
import { KeptSteps } from './kept-steps.js';

export interface PoolRuntime {
  name: string;
  capacity: number;
  executor: Executor;
  /**
   * Runs the built-in resource types of this pool's steps. Absent: one executor of this runner's,
   * in a directory of its own under the system temp dir (removed by stop()).
   */
  builtin?: Executor;
  /** The built-in types `builtin` runs; absent: all of them. */
  builtinTypes?: readonly string[];
  /** How long a failed step stays (not cleaned up) for `outpost intercept`; absent or 0: not at all. */
  keepFailedStepsMs?: number;
  /**
   * Pools of host processes: where a task's image (image_resource) is fetched as a rootfs the
   * executor runs it in. Absent: the executor pulls images itself (kubernetes) or has none.
   */
  images?: RootfsCache;
}

/**
 * Why the agent stops a step before its end: the hub asked (`aborted`: a user's abort, a timeout), the
 * hub no longer honours its lease (`dropped`: forgotten without a report), or the agent shuts down
 * (`shutdown`, the drain timeout: nobody aborted it, so it is reported 'errored' with this message).
 */
export class StepStop extends Error {
  constructor(
    readonly kind: 'aborted' | 'dropped' | 'shutdown',
    message: string,
  ) {
    super(message);
  }
}

interface Tracked {
  held: HeldStep;
  running: RunningStep | undefined;
  /** Aborted with the first StepStop that came; later ones do not change it. */
  stop: AbortController;
  /**
   * Aborted when nothing the step owes the hub is worth waiting for any more (it was dropped, or the
   * agent shuts down): retries across an outage end there.
   */
  giveUp: AbortController;
  /** Gives the step's task caches back once the step is cleaned up. */
  releaseCaches: () => Promise<void>;
  /**
   * When its process started (for a step taken back after a restart: when it was taken back). Started
   * goes again on every resume: the hub may not have read it before the connection broke.
   */
  startedAt?: number;
  /** A step this agent process was assigned: when each of its hops happened (logged at its end). */
  timeline?: { marks: StepTimeline; log: Logger };
  /** Its build (a step this agent process was assigned), whose end a succeeded step may wait for. */
  buildId?: number;
}

function tracking(held: HeldStep, running: RunningStep | undefined): Tracked {
  const tracked: Tracked = {
    held,
    running,
    stop: new AbortController(),
    giveUp: new AbortController(),
    releaseCaches: noCaches,
  };
  held.onStored = (checkpoint) => tracked.running?.logStored?.(checkpoint);
  return tracked;
}

const noCaches = () => Promise.resolve();

export interface RunnerLimits {
  maxLogChunkBytes: number;
  logWindowBytes: number;
  maxArtifactBytes: number;
  /** How long the hub keeps the leases of an agent it lost (Welcome.lease_grace_ms). */
  leaseGraceMs: number;
}

const RESULT_RESEND_MS = 10_000;

export class StepRunner {
  private readonly steps = new Map<string, Tracked>();
  private outbox: Outbox | undefined;
  private limits: RunnerLimits = {
    maxLogChunkBytes: 64 * 1024,
    logWindowBytes: 4 * 1024 * 1024,
    maxArtifactBytes: 1024 * 1024 * 1024,
    leaseGraceMs: DEFAULT_LEASE_GRACE_MS,
  };
  /** Whether a session is welcomed: what a step owes the hub waits for the next one. */
  private readonly link = new HubLink();
  private readonly resendTimer: NodeJS.Timeout;
  private idleWaiters: (() => void)[] = [];
  /** The sweeps under way, one after the other; never rejects. */
  private sweeping: Promise<void> = Promise.resolve();
  /** Set by stop(): the runner has let go of its steps (see stop). */
  private detached = false;
  /** Ended steps kept for intercept (see kept-steps.ts and terminalOf). */
  private readonly kept = new KeptSteps();
  private defaultBuiltin: Executor | undefined;
  private defaultBuiltinRoot: string | undefined;
  /** How resources that come as images hand their outputs back (see agent/resources). */
  private readonly imageResources: ImageResourceOptions = {
    scratchDir: () => this.transfer.scratchDir(),
    maxOutputBytes: () => this.limits.maxArtifactBytes,
  };

  constructor(
    private readonly pools: Map<string, PoolRuntime>,
    private readonly transfer: ArtifactTransfer,
    private readonly taskCaches: TaskCaches,
    private readonly metrics: AgentMetrics,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.resendTimer = setInterval(() => {
      for (const t of this.steps.values()) t.held.resendResult();
    }, RESULT_RESEND_MS);
    this.resendTimer.unref();
  }

  /** For Hello. */
  heldSteps(): WireHeldStep[] {
    return [...this.steps.values()].map((t) => t.held.heldState);
  }

  /** Steps of the pool still running: one whose result is sent no longer holds a slot (as on the hub). */
  inUse(pool: string): number {
    let n = 0;
    for (const t of this.steps.values()) if (t.held.pool === pool && !t.held.heldState.finished) n++;
    return n;
  }

  get size(): number {
    return this.steps.size;
  }

  /** A connection was welcomed: resume or drop each held step as the hub decided, then resend. */
  attach(outbox: Outbox, decisions: HeldStepDecision[], limits: RunnerLimits): void {
    this.outbox = outbox;
    this.limits = limits;
    const byLease = new Map(decisions.map((d) => [d.leaseId, d]));
    for (const [leaseId, tracked] of this.steps) {
      const decision = byLease.get(leaseId);
      if (decision?.decision === LeaseDecision.LEASE_DECISION_RESUME) {
        if (tracked.startedAt !== undefined) outbox.sendStarted(leaseId, tracked.startedAt);
        this.metrics.logResends.inc(tracked.held.attach(outbox, decision.ackedLogSeq, limits.logWindowBytes));
        this.metrics.resumedSteps.inc();
      } else {
        this.drop(leaseId, decision?.reason || 'the hub did not resume it');
      }
    }
    // After the decisions: a step waiting to deliver wakes resumed, or already dropped.
    this.link.welcomed();
    // Now that the hub said which steps live on, whatever executors hold for other leases can go.
    void this.sweep();
  }

  detach(): void {
    this.outbox = undefined;
    this.link.lost();
    for (const t of this.steps.values()) t.held.detach();
  }

  /** The transport drained: let every step continue sending. */
  unblock(): void {
    for (const t of this.steps.values()) t.held.unblock();
  }

  /** Returns a rejection reason, or undefined when the step was accepted and is starting. */
  assign(assign: Assign, outbox: Outbox, draining: boolean): string | undefined {
    const poolName = assign.spec?.pool ?? '';
    const pool = this.pools.get(poolName);
    if (draining) return 'agent is draining';
    if (!pool) return `agent has no pool "${poolName}"`;
    if (!assign.spec?.run && !assign.spec?.resource) return 'the step has neither run nor resource';
    if (this.steps.has(assign.leaseId)) return undefined;
    if (this.inUse(poolName) >= pool.capacity) return `pool "${poolName}" is at capacity (${pool.capacity})`;

    const marks = new StepTimeline();
    const held = new HeldStep(assign.leaseId, poolName, this.limits.logWindowBytes);
    held.attach(outbox, 0, this.limits.logWindowBytes);
    const tracked = tracking(held, undefined);
    this.steps.set(assign.leaseId, tracked);
    this.metrics.stepsRunning.set(this.steps.size);
    const spec = assign.spec;
    const step: ExecStep = {
      leaseId: assign.leaseId,
      run: {
        path: spec.run?.path ?? '',
        args: spec.run?.args ?? [],
        dir: spec.run?.dir ?? '',
        user: spec.run?.user ?? '',
      },
      env: Object.fromEntries(spec.env.filter((e) => !e.secret).map((e) => [e.name, e.value])),
      secretEnv: spec.env.flatMap((e) =>
        e.secret ? [{ name: e.name, source: e.secret.source, secret: e.secret.name, key: e.secret.key }] : [],
      ),
      // Archives are fetched in run(), once the step is accepted.
      inputs: spec.inputs.map((i) => ({ name: i.name, path: i.path, archive: undefined })),
      outputs: spec.outputs.map((o) => ({ name: o.name, path: o.path })),
      timeoutMs: spec.timeoutMs,
      privileged: spec.privileged,
      ...(assign.context ? { context: { ...assign.context } } : {}),
      ...imageFromWire(spec.image),
      memoryLimitBytes: spec.memoryLimitBytes,
      cpuShares: spec.cpuShares,
      redact: spec.redact,
    };
    let executor = pool.executor;
    if (spec.resource) {
      // A resource step runs check/in/out instead of `run`: built in, or from the type's image.
      const resource = execResourceFromWire(spec.resource);
      if (typeof resource === 'string') {
        executor = refusing(resource);
      } else {
        step.resource = resource;
        executor = resourceExecutorFor(
          {
            name: pool.name,
            executor: pool.executor,
            builtin: this.builtinFor(pool),
            builtinTypes: pool.builtinTypes ?? BUILTIN_TYPES,
          },
          resource,
          this.imageResources,
        );
      }
    }
    const caches = this.taskCaches.acquire(step.context, spec.cachePaths);
    step.caches = caches.caches;
    tracked.releaseCaches = caches.release;
    // The build as the hub and the CLI show it, so an agent's log lines can be matched to a build page.
    const context = assign.context;
    const log = this.log.child({
      leaseId: assign.leaseId,
      ...(context ? { build: buildName(context), buildId: context.buildId, step: context.stepName } : {}),
    });
    tracked.timeline = { marks, log };
    if (context) tracked.buildId = context.buildId;
    const digests = new Map(
      spec.inputs.filter((i) => i.artifactDigest).map((i) => [i.name, i.artifactDigest]),
    );
    const images = step.resource ? undefined : pool.images;
    void this.run(tracked, executor, step, { digests, redact: spec.redact, images }, log).catch(
      (err: unknown) => {
        log.error({ err }, 'step runner failed');
        held.finish({
          status: statusToWire('errored'),
          exitStatus: -1,
          error: `agent error: ${(err as Error).message}`,
          outputs: [],
          atUnixMs: this.now(),
          resourceResultJson: '',
        });
      },
    );
    return undefined;
  }

  onLogAck(leaseId: string, seq: number): void {
    this.steps.get(leaseId)?.held.ack(seq);
  }

  onFinishedAck(leaseId: string): void {
    this.steps.get(leaseId)?.held.resultAcknowledged();
  }

  /** The hub says a build ended: its succeeded steps kept for intercept go now, or stay if it failed. */
  buildEnded(buildId: number, failed: boolean): void {
    this.kept.buildEnded(buildId, failed);
  }

  abort(leaseId: string, graceMs: number, reason: string): void {
    const tracked = this.steps.get(leaseId);
    if (!tracked) return;
    tracked.stop.abort(new StepStop('aborted', reason));
    void tracked.running?.abort(graceMs, reason);
  }

  /**
   * Starts a command intercepting a step (outpost intercept): one that runs, or a failed one kept for
   * its pool's keep_failed_steps_for. Rejects with why it cannot.
   */
  terminalOf(leaseId: string, command: InterceptCommand, output: TerminalOutput): Promise<StepTerminal> {
    const running = this.steps.get(leaseId)?.running ?? this.kept.get(leaseId);
    if (!running)
      return Promise.reject(
        new Error(
          "the step is not on this agent any more: it has not started, or it ended (a failed build's steps are kept for their pool's keep_failed_steps_for)",
        ),
      );
    if (running.intercept) return running.intercept(command, output);
    const shell = running.shell;
    if (!shell)
      return Promise.reject(
        new Error(
          'this step cannot be intercepted: its executor does not support it, or it was resumed after an agent restart',
        ),
      );
    return Promise.resolve().then(() => localTerminal(shell, command, output));
  }
  /** The hub no longer honours the lease: stop the step and forget it without reporting. */
  drop(leaseId: string, reason: string): void {
    const tracked = this.steps.get(leaseId);
    if (!tracked) return;
    this.log.info({ leaseId, reason }, 'dropping step');
    this.steps.delete(leaseId);
    const why = new StepStop('dropped', reason);
    tracked.stop.abort(why);
    tracked.giveUp.abort(why);
    tracked.held.resultAcknowledged();
    const running = tracked.running;
    if (running) void running.abort(0, reason).then(() => running.cleanup());
    this.wakeIdle();
  }

  /**
   * Before the first Hello: takes back the steps the executors still run from a previous agent process
   * (kubernetes pods), so Hello lists them and the hub resumes them. Their logs replay from their last
   * stored checkpoint (else from the start) in the same chunks; HeldStep skips the sequences the hub
   * already has.
   */
  async recover(): Promise<void> {
    for (const pool of this.pools.values()) {
      const { executor } = pool;
      if (!executor.listHeld || !executor.reattach) continue;
      let leases: string[];
      try {
        leases = await executor.listHeld();
      } catch (err) {
        this.log.warn({ err, pool: pool.name }, 'cannot list the steps held from before a restart');
        continue;
      }
      for (const leaseId of leases) {
        if (this.steps.has(leaseId)) continue;
        // A resource that runs from an image comes back as one: its response is read again.
        const running = await executor
          .reattach(leaseId)
          .then((r) => (r ? resumeImageResource(r, this.imageResources) : undefined))
          .catch((err: unknown) => {
            this.log.warn({ err, leaseId }, 'cannot reattach a step');
            return undefined;
          });
        if (!running) continue;
        const held = new HeldStep(leaseId, pool.name, this.limits.logWindowBytes, running.resumedLog);
        const tracked = tracking(held, running);
        tracked.startedAt = this.now();
        this.steps.set(leaseId, tracked);
        this.metrics.stepsRunning.set(this.steps.size);
        const log = this.log.child({ leaseId });
        log.info('reattached a step held from before a restart');
        void this.finishRunning(tracked, running, [...(running.redact ?? [])], log).catch((err: unknown) => {
          log.error({ err }, 'step runner failed');
          held.finish({
            status: statusToWire('errored'),
            exitStatus: -1,
            error: `agent error: ${(err as Error).message}`,
            outputs: [],
            atUnixMs: this.now(),
            resourceResultJson: '',
          });
        });
      }
    }
  }

  /**
   * Deletes what executors hold for leases this runner no longer has (after a Welcome). A sweep keeps
   * the leases held when it begins: a step assigned meanwhile starts once it is over (see run), else
   * its pod or directory, made while the sweep lists them, would be deleted as a leftover.
   */
  sweep(): Promise<void> {
    this.sweeping = this.sweeping.then(() => this.sweepNow());
    return this.sweeping;
  }

  private async sweepNow(): Promise<void> {
    const keep = new Set([...this.steps.keys(), ...this.kept.leases()]);
    for (const pool of this.pools.values()) {
      for (const executor of [pool.executor, pool.builtin]) {
        await executor
          ?.sweep?.(keep)
          .catch((err: unknown) => this.log.warn({ err, pool: pool.name }, 'sweep failed'));
      }
    }
  }

  private builtinFor(pool: PoolRuntime): Executor {
    if (pool.builtin) return pool.builtin;
    // This runner's own directory: one shared by every runner on the host would be swept, or owned, by
    // another agent (concurrent tests, two agents on one machine).
    this.defaultBuiltinRoot ??= path.join(os.tmpdir(), `outpost-agent-resources-${randomUUID()}`);
    this.defaultBuiltin ??= new BuiltinResourceExecutor({ workRoot: this.defaultBuiltinRoot });
    return this.defaultBuiltin;
  }

  /** Resolves when no step is held (every result acknowledged). */
  async idle(): Promise<void> {
    while (this.steps.size > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Stops every running step because the agent shuts down (the drain deadline passed). They are
   * reported 'errored' with `reason` (e.g. `agent edge-1 shut down before the step finished (drain
   * timeout)`): nobody aborted them. A step someone had already aborted stays 'aborted'.
   */
  abortAll(reason: string): void {
    for (const tracked of this.steps.values()) {
      const why = new StepStop('shutdown', reason);
      tracked.stop.abort(why);
      tracked.giveUp.abort(why);
      void tracked.running?.abort(5_000, reason);
    }
  }

  /**
   * Stops the runner's timers, cleans up the failed steps it kept, and lets go of the running steps
   * without stopping them: their executors keep them for the next agent process to reattach. From now
   * on this runner starts, reads, collects, uploads and reports nothing of them, so it cannot race the
   * agent that reattached them (an output packed twice from one pod, a result sent twice).
   */
  async stop(): Promise<void> {
    this.detached = true;
    for (const tracked of this.steps.values())
      tracked.giveUp.abort(new StepStop('shutdown', 'the agent stopped'));
    clearInterval(this.resendTimer);
    await this.kept.clear();
    if (this.defaultBuiltinRoot) await rm(this.defaultBuiltinRoot, { recursive: true, force: true });
  }

  /**
   * How long a step that can be intercepted after its end (its directory and environment are on this
   * host, or its executor enters it itself: a kubernetes step's pod) may be kept: its pool's
   * keepFailedStepsMs; 0 for a step that cannot be.
   */
  private keepMsOf(running: RunningStep, poolName: string): number {
    const enterable = running.shell !== undefined || running.intercept !== undefined;
    return enterable ? (this.pools.get(poolName)?.keepFailedStepsMs ?? 0) : 0;
  }

  /**
   * After the hub has the result: a failed step stays for keepMsOf (a succeeded one waiting for its
   * build's end is with `kept` already, see report); everything else is cleaned up now.
   */
  private async cleanupOrKeep(running: RunningStep, result: ExecResult, poolName: string): Promise<void> {
    const keepMs = this.keepMsOf(running, poolName);
    if (result.status !== 'failed' || keepMs <= 0) return running.cleanup();
    this.kept.keepFor(running, keepMs);
  }

  /** A method, not the field, so that a check after an await reads it again. */
  private isDetached(): boolean {
    return this.detached;
  }

  private wakeIdle(): void {
    this.metrics.stepsRunning.set(this.steps.size);
    if (this.steps.size === 0) for (const wake of this.idleWaiters.splice(0)) wake();
  }

  private async run(
    tracked: Tracked,
    executor: Executor,
    step: ExecStep,
    extra: { digests: Map<string, string>; redact: string[]; images?: RootfsCache | undefined },
    log: Logger,
  ): Promise<void> {
    this.outbox?.sendAccepted(step.leaseId);
    const delivery = this.delivery(tracked, log);
    const fetched = await this.fetchInputs(step, extra.digests, delivery);
    const image = typeof fetched === 'string' ? fetched : await this.fetchImage(step, executor, delivery);
    if (typeof image === 'string' || typeof fetched === 'string') {
      const error = typeof fetched === 'string' ? fetched : (image as string);
      await this.report(tracked, step.leaseId, { status: 'errored', exitStatus: -1, error }, [], undefined);
      return;
    }
    // Stopped while its inputs were fetched: a dropped step is forgotten, an aborted one never starts.
    if (stopped(tracked)) {
      if (this.steps.get(step.leaseId) !== tracked) return;
      const aborted: ExecResult = { status: 'aborted', exitStatus: -1, error: 'interrupted' };
      await this.report(tracked, step.leaseId, aborted, [], undefined);
      return;
    }
    if (this.isDetached()) return;
    let starting: ExecStep = { ...step, inputs: fetched, ...(image ? { image } : {}) };
    // A process pool with task_images: chroot runs a registry image_resource in its rootfs.
    if (image?.repository && extra.images) {
      const rootfs = await this.fetchRootfs(extra.images, image, tracked, log);
      if (typeof rootfs === 'string') {
        await this.report(
          tracked,
          step.leaseId,
          { status: 'errored', exitStatus: -1, error: rootfs },
          [],
          undefined,
        );
        return;
      }
      // The image's env (its PATH, say) sits under the task's own params.
      starting = { ...starting, rootfs: rootfs.rootfs, env: { ...rootfs.env, ...step.env } };
    }
    await this.sweeping;
    tracked.timeline?.marks.mark('starting');
    const running = await executor.start(starting);
    tracked.running = running;
    for (const [mark, at] of [
      ['handedOver', running.handedOverAt],
      ['received', running.receivedAt],
      ['spawned', running.spawnedAt],
    ] as const)
      if (at !== undefined) tracked.timeline?.marks.mark(mark, at);
    tracked.timeline?.marks.mark('started');
    // An abort or drop that came while the executor was starting it: stop it now.
    if (stopped(tracked)) void running.abort(0, 'aborted before it started');
    tracked.startedAt = this.now();
    this.outbox?.sendStarted(step.leaseId, tracked.startedAt);
    log.info(
      step.resource ? { resource: step.resource.kind, type: step.resource.type } : { path: step.run.path },
      'step started',
    );
    await this.finishRunning(tracked, running, extra.redact, log);
  }

  private async finishRunning(
    tracked: Tracked,
    running: RunningStep,
    redact: string[],
    log: Logger,
  ): Promise<void> {
    const { held } = tracked;
    const { leaseId } = running;
    await this.pumpLogs(held, running, redact);
    if (this.isDetached()) return;
    let result = await running.wait();
    if (this.isDetached()) return;
    if (running.exitedAt !== undefined) tracked.timeline?.marks.mark('exited', running.exitedAt);
    tracked.timeline?.marks.mark('ended');
    log.info({ status: result.status, exitStatus: result.exitStatus }, 'step ended');
    // Stopped by the agent's shutdown: errored (infrastructure), so its outputs are not kept either.
    result = asShutdown(tracked, result);
    let outputs: Finished['outputs'] = [];
    if (result.status !== 'errored') {
      // Outputs are kept for failed and aborted steps too: hooks (on_failure, ensure) may read them.
      const uploaded = await this.uploadOutputs(leaseId, running, this.delivery(tracked, log)).catch(
        (err: unknown) => (err as Error).message,
      );
      if (typeof uploaded === 'string')
        result = { status: 'errored', exitStatus: result.exitStatus, error: uploaded };
      else outputs = uploaded;
    }
    // The executor put the caches back when the step ended: the next build of the step may have them.
    await tracked.releaseCaches();
    await this.report(tracked, leaseId, result, outputs, running);
  }

  /** How this step's artifact calls ride out hub outages (see session/outages.ts). */
  private delivery(tracked: Tracked, log: Logger): DeliveryContext {
    return {
      link: this.link,
      graceMs: () => this.limits.leaseGraceMs,
      giveUp: tracked.giveUp.signal,
      log,
      retrying: () => this.metrics.artifactRetries.inc(),
      now: this.now,
    };
  }

  /** A task image's rootfs for a pool of host processes; or why it could not be had. */
  private async fetchRootfs(
    images: RootfsCache,
    image: StepImage,
    tracked: Tracked,
    log: Logger,
  ): Promise<ImageRootfs | string> {
    try {
      return await images.rootfs(
        image,
        (line) => log.info({ image: image.repository }, line),
        tracked.stop.signal,
      );
    } catch (err) {
      return `image_resource ${image.repository}: ${(err as Error).message}`;
    }
  }

  /** Every input's archive, from the cache or the hub (across outages); or why one could not be had. */
  private async fetchInputs(
    step: ExecStep,
    digests: Map<string, string>,
    delivery: DeliveryContext,
  ): Promise<ExecStep['inputs'] | string> {
    const inputs: ExecStep['inputs'] = [];
    for (const input of step.inputs) {
      const digest = digests.get(input.name);
      if (!digest) {
        inputs.push(input);
        continue;
      }
      try {
        const archive = await deliver(
          `input "${input.name}": could not fetch ${digest}`,
          () => this.transfer.fetch(step.leaseId, digest),
          delivery,
        );
        inputs.push({ ...input, archive });
      } catch (err) {
        return (err as Error).message;
      }
    }
    return inputs;
  }

  /**
   * The step's image, its artifact fetched (an image a task built) for an executor that runs images;
   * or why it could not be.
   */
  private async fetchImage(
    step: ExecStep,
    executor: Executor,
    delivery: DeliveryContext,
  ): Promise<StepImage | undefined | string> {
    const artifact = step.image?.artifact;
    if (!step.image || !artifact || !executor.runsImages) return step.image;
    try {
      const archive = await deliver(
        `image: could not fetch ${artifact.digest}`,
        () => this.transfer.fetch(step.leaseId, artifact.digest),
        delivery,
      );
      return { ...step.image, artifact: { ...artifact, archive } };
    } catch (err) {
      return (err as Error).message;
    }
  }

  /** Packs the step's outputs and uploads each, across hub outages; throws why one could not be. */
  private async uploadOutputs(
    leaseId: string,
    running: RunningStep,
    delivery: DeliveryContext,
  ): Promise<Finished['outputs']> {
    const packed = await running.collectOutputs(
      await this.transfer.scratchDir(),
      this.limits.maxArtifactBytes,
    );
    const outputs: Finished['outputs'] = [];
    for (const { name, archive } of packed) {
      const ref = await deliver(
        `output "${name}": upload failed`,
        () => this.transfer.upload(leaseId, name, archive),
        delivery,
      );
      outputs.push({ name, digest: ref.digest, size: ref.size });
    }
    return outputs;
  }

  /** Sends the result (after every log chunk), waits for the hub to have it, then forgets the step. */
  private async report(
    tracked: Tracked,
    leaseId: string,
    result: ExecResult,
    outputs: Finished['outputs'],
    running: RunningStep | undefined,
  ): Promise<void> {
    if (this.isDetached()) return;
    result = asShutdown(tracked, result);
    // A succeeded step waits for its build's end before the hub may hear of it: the build can end, and
    // BuildEnded come, as soon as the hub has this result.
    const keepMs = running ? this.keepMsOf(running, tracked.held.pool) : 0;
    const awaitsBuild = running && keepMs > 0 && result.status === 'succeeded' && tracked.buildId;
    if (awaitsBuild) this.kept.awaitBuild(running, awaitsBuild, keepMs);
    tracked.held.finish({
      status: statusToWire(result.status),
      exitStatus: result.exitStatus,
      error: result.error ?? '',
      outputs,
      atUnixMs: this.now(),
      // Only a step that succeeded (outputs uploaded too) has a response the hub may use.
      resourceResultJson: result.status === 'succeeded' ? (result.resourceResult ?? '') : '',
    });
    if (tracked.timeline) {
      const { marks, log } = tracked.timeline;
      marks.mark('finished');
      log.debug({ timeline: marks.hops(), marks: marks.at() }, 'step timeline');
    }
    await tracked.held.acknowledged();
    if (running && !awaitsBuild) await this.cleanupOrKeep(running, result, tracked.held.pool);
    await tracked.releaseCaches(); // again, for a step that never got as far as running
    if (this.steps.get(leaseId) === tracked) this.steps.delete(leaseId);
    this.wakeIdle();
  }

  /** Streams the step's output into the held step: redacted, in whole characters, in chunks the hub accepts. */
  private async pumpLogs(held: HeldStep, running: RunningStep, secrets: string[]): Promise<void> {
    const redactors = new Map<string, Redactor>();
    const carry = new Map<string, Buffer>();
    const emit = async (stream: 'stdout' | 'stderr', data: Buffer, at: number) => {
      const before = carry.get(stream);
      const joined = before && before.length > 0 ? Buffer.concat([before, data]) : data;
      const [complete, rest] = splitAtCharBoundary(joined);
      carry.set(stream, rest);
      for (const piece of chunksOf(complete, this.limits.maxLogChunkBytes))
        await held.push(streamToWire(stream), piece, at);
    };
    for await (const piece of running.logs()) {
      if (this.isDetached()) return;
      let redactor = redactors.get(piece.stream);
      if (!redactor) redactors.set(piece.stream, (redactor = new Redactor(secrets)));
      if (piece.gap) await held.gap();
      await emit(piece.stream, redactor.push(piece.data), piece.at);
      // A point a reattached step can go on from: the chunks so far hold everything up to it.
      const holding =
        [...redactors.values()].some((r) => r.held > 0) || [...carry.values()].some((c) => c.length > 0);
      if (piece.position !== undefined && !holding) held.checkpoint(piece.position);
    }
    for (const [stream, redactor] of redactors)
      await emit(stream as 'stdout' | 'stderr', redactor.flush(), this.now());
    for (const [stream, rest] of carry) {
      if (rest.length > 0) await held.push(streamToWire(stream as 'stdout' | 'stderr'), rest, this.now());
    }
  }
}

/** Read through a call: the signal changes across awaits, which a narrowed field read would hide. */
/** The step's image from the wire: a registry reference, an artifact, or none. */
function imageFromWire(image: ImageRef | undefined): Pick<ExecStep, 'image'> {
  if (!image) return {};
  const credentials =
    image.username || image.password ? { username: image.username, password: image.password } : {};
  if (image.artifactDigest)
    return { image: { repository: '', artifact: { digest: image.artifactDigest, archive: undefined } } };
  if (!image.repository) return {};
  return { image: { repository: image.repository, tag: image.tag, digest: image.digest, ...credentials } };
}

function stopped(tracked: Tracked): boolean {
  return tracked.stop.signal.aborted;
}

/** A step the agent's shutdown stopped ends 'errored' with the shutdown's reason, never 'aborted'. */
function asShutdown(tracked: Tracked, result: ExecResult): ExecResult {
  const why: unknown = tracked.stop.signal.reason;
  if (result.status !== 'aborted' || !(why instanceof StepStop) || why.kind !== 'shutdown') return result;
  return { status: 'errored', exitStatus: result.exitStatus, error: why.message };
}
