// The engine: starts, resumes and aborts builds, and is the dispatcher's listener. How a build's plan
// runs is BuildRun's job (build-run.ts); each leaf step kind has its own runner beside it.
//
// Nothing about a build lives only in memory: `resumeAll()` after a hub restart simply runs every
// unfinished build again, and the replay in BuildRun continues each where it stopped.

import type { Logger } from 'pino';
import type { ArtifactStore } from '../artifacts/store.js';
import type { Dispatcher, DispatchListener } from '../dispatch/dispatcher.js';
import type { PoolInfo, StepOutcome, StepSpec } from '../dispatch/types.js';
import type { BuildEvents, BuildEventType, NewEvent } from '../events/build-events.js';
import { eventTime } from '../events/build-events.js';
import type { PipelineConfigs } from '../configs/pipeline-cache.js';
import {
  isCheckJob,
  TERMINAL_BUILD_STATUSES,
  type Announcement,
  type BuildView,
  type Pipeline,
  type Store,
  type WriteOptions,
} from '../store/store.js';
import { BuildRun, statusAnnouncement, type LeafRunners, type Result } from './build-run.js';
import { AbortReason, Scope } from './scope.js';
import { TaskStep } from './task-step.js';
import { LoadVarStep } from './load-var-step.js';
import { RunStep } from './run-step.js';
import { idTokenFor, type IdTokenIssuer } from '../idtoken/issuer.js';
import { SetPipelineStep } from './set-pipeline-step.js';
import { ResourceSteps } from './resource-step.js';
import type { EndEvents, StepEnd, StoredDispatchSpec } from './dispatched-step.js';
import { taskEventConfig } from './task-event-config.js';

export interface EngineOptions {
  configs: PipelineConfigs;
  /** Images of the base resource types that are not built in (git -> concourse/git-resource). */
  coreResourceImages: Readonly<Record<string, string>>;
  /** A check or put added versions to a pipeline's resources; a build ended. The scheduler listens. */
  onVersions: (pipelineId: number) => void;
  /** `status`: how it ended; undefined when it was left unfinished (the hub stops). */
  onBuildEnded: (build: BuildView, status: Result | undefined) => void;
  /** Signs the tokens of `idtoken` var sources; absent: such a source has no vars. */
  idTokens?: IdTokenIssuer;
}

/** Who waits for a step run's end, and the events that announce it (DispatchDeps.announceEnd). */
interface Waiter {
  resolve: (end: StepEnd) => void;
  endEvents?: EndEvents;
  announced: boolean;
}

interface Running {
  run: BuildRun;
  abort: AbortController;
  done: Promise<void>;
  /** How it ended, once that is stored. */
  ended?: Result;
}

export class Engine implements DispatchListener {
  private readonly builds = new Map<number, Running>();
  private readonly waiters = new Map<number, Waiter>();
  /** Plan id of each step run of a running build, so dispatcher callbacks need no store lookup. */
  private readonly planIds = new Map<number, string>();
  private dispatcher: Dispatcher | undefined;
  /** Var-source lookups per pipeline, refreshed when one of its builds starts. */
  private readonly varSources = new Map<
    number,
    {
      lookup: (ref: { source?: string; path: string }, build: BuildView) => unknown;
      typeOf: (source: string) => string | undefined;
    }
  >();
  private readonly leaves: LeafRunners;
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly events: BuildEvents,
    artifacts: ArtifactStore,
    private readonly log: Logger,
    private readonly options: EngineOptions,
    private readonly now: () => number = Date.now,
  ) {
    const dispatch = {
      dispatcher: () => this.requireDispatcher(),
      outcome: (id: number) => this.outcome(id),
      announceEnd: (id: number, events: EndEvents) => {
        const waiter = this.waiters.get(id);
        if (waiter) waiter.endEvents = events;
      },
    };
    const resources = new ResourceSteps({
      ...dispatch,
      configs: options.configs,
      coreImages: options.coreResourceImages,
      versionsSaved: options.onVersions,
    });
    this.leaves = {
      task: new TaskStep({
        ...dispatch,
        artifacts,
        image: (build, scope, taskId, image) => resources.image(build, scope, taskId, image),
      }),
      get: resources.get,
      put: resources.put,
      check: resources.check,
      load_var: new LoadVarStep(artifacts),
      run: new RunStep(),
      set_pipeline: new SetPipelineStep(artifacts),
    };
  }

  /** The dispatcher needs the engine as its listener, so it is connected after both exist. */
  connect(dispatcher: Dispatcher): void {
    this.dispatcher = dispatcher;
  }

  /**
   * Resumes every started build and every pending check or one-off build (hub start). Pending job
   * builds are the scheduler's: it starts them when their inputs and limits allow.
   */
  async resumeAll(): Promise<number> {
    const started = await this.store.listBuilds({ statuses: ['started'], limit: 100_000 });
    const checks = await this.store.listBuilds({
      statuses: ['pending'],
      jobKind: ['check', 'one-off'],
      limit: 100_000,
    });
    const unfinished = [...started, ...checks].sort((a, b) => a.id - b.id);
    for (const build of unfinished) this.start(build);
    return unfinished.length;
  }

  /** Whether the engine is running the build now. */
  isRunning(buildId: number): boolean {
    return this.builds.has(buildId);
  }

  /** How many builds of these jobs the engine runs now. */
  runningOf(jobIds: ReadonlySet<number>): number {
    let n = 0;
    for (const { run } of this.builds.values()) if (jobIds.has(run.build.jobId)) n++;
    return n;
  }

  /** Whether a step of a running build waits for this step run's outcome. */
  waitsFor(stepRunId: number): boolean {
    return this.waiters.has(stepRunId);
  }

  /** Starts (replays) an unfinished build this engine is not running; false if it is finished or running. */
  async resume(buildId: number): Promise<boolean> {
    if (this.builds.has(buildId)) return false;
    const build = await this.store.getBuild(buildId);
    if (!build || TERMINAL_BUILD_STATUSES.includes(build.status) || this.builds.has(buildId)) return false;
    this.start(build);
    return true;
  }

  /** Asks an unfinished build to abort; false when it is unknown or has already finished. */
  async abort(buildId: number): Promise<boolean> {
    const build = await this.store.getBuild(buildId);
    if (!build || TERMINAL_BUILD_STATUSES.includes(build.status)) return false;
    await this.store.updateBuild(buildId, { abortRequested: true });
    this.builds.get(buildId)?.abort.abort(new AbortReason('user'));
    return true;
  }

  /** Resolves when every build this engine runs has settled (tests and shutdown). */
  async idle(): Promise<void> {
    while (this.builds.size > 0) await Promise.all([...this.builds.values()].map((b) => b.done));
  }

  /** Why the build is not progressing right now, if a step of it is waiting for an agent. */
  waitingReason(buildId: number): string | null {
    const running = this.builds.get(buildId);
    // Unfinished (callers ask only then) yet not run here: the stall audit picks such builds up.
    if (!running) return 'not running on this hub yet; the stall audit will start it';
    if (!this.dispatcher) return null;
    for (const run of running.run.steps.values()) {
      const reason = this.dispatcher.waitingReasonFor(run.id);
      if (reason) return reason;
    }
    return null;
  }

  // DispatchListener
  waiting(stepRunId: number, buildId: number, reason: string): void {
    // Joins the turn's commit: with every pool full each queued step says why, and a commit of its own
    // per step (and one more for the batch before it) slowed the hub most when it was busiest.
    this.emitFor(buildId, stepRunId, 'waiting-for-worker', { reason }, { deferCommit: true });
  }

  async selected(
    step: { stepRunId: number; buildId: number; planId?: string },
    agentName: string,
    pool: PoolInfo,
    spec: StepSpec,
  ): Promise<Announcement | undefined> {
    const { stepRunId, buildId } = step;
    // Replicas: the build may run on another replica, which tracks its plan ids.
    const planId =
      step.planId ?? this.planIds.get(stepRunId) ?? (await this.store.getStepRun(stepRunId))?.planId;
    if (planId === undefined) return undefined;
    const events: NewEvent[] = [
      {
        buildId,
        type: 'selected-worker',
        data: this.eventData(planId, { selected_worker: agentName, pool: pool.name }),
      },
    ];
    const ignored = pool.executor === 'process' ? unhonoured(spec, pool.taskImages === true) : [];
    if (ignored.length > 0) {
      // Said in the build log, where the user looks, rather than silently dropped.
      const payload = `outpost: pool "${pool.name}" runs steps as host processes; not applied: ${ignored.join(', ')}\n`;
      events.push({ buildId, type: 'log', data: this.eventData(planId, { payload }, 'stderr') });
    }
    return this.events.announcement(events);
  }

  ending(stepRunId: number, buildId: number, outcome: StepOutcome): Announcement | undefined {
    const waiter = this.waiters.get(stepRunId);
    const events = waiter?.endEvents?.(outcome);
    if (!waiter || !events || events.length === 0) return undefined;
    const time = eventTime(this.now());
    const announcement = this.events.announcement(
      events.map(({ type, data }) => ({ buildId, type, data: { ...data, time } })),
    );
    return {
      events: announcement.events,
      stored: (stored) => {
        waiter.announced = true;
        announcement.stored(stored);
      },
    };
  }

  ended(stepRunId: number, _buildId: number, outcome: StepOutcome, agentName?: string | null): void {
    const waiter = this.waiters.get(stepRunId);
    this.waiters.delete(stepRunId);
    waiter?.resolve({ outcome, announced: waiter.announced, agentName });
  }

  /**
   * The agent started the step's process under `leaseId`: records it (once per lease: the agent says
   * Started again after a reconnect, not knowing if this one arrived) with the step's start event.
   */
  async stepStarted(stepRunId: number, buildId: number, leaseId: string): Promise<void> {
    const running = this.builds.get(buildId);
    const run =
      (running && [...running.run.steps.values()].find((r) => r.id === stepRunId)) ??
      (await this.store.getStepRun(stepRunId));
    const stored = run?.spec as StoredDispatchSpec | undefined;
    // The step is running in the store before its process is said to have started.
    await this.dispatcher?.acceptStored(leaseId);
    if (!run || !stored) {
      await this.store.markStepProcessStarted(stepRunId, leaseId);
      return;
    }
    const { spec } = stored;
    const origin = { id: run.planId };
    const time = eventTime(this.now());
    // Concourse says start-get and start-put; a check starts as a plain step does.
    const event: NewEvent = !spec.resource
      ? { buildId, type: 'start-task', data: { origin, time, config: taskEventConfig(spec) } }
      : {
          buildId,
          type: spec.resource.kind === 'check' ? 'start' : `start-${spec.resource.kind}`,
          data: { origin, time },
        };
    await this.store.markStepProcessStarted(stepRunId, leaseId, this.events.announcement([event]));
  }

  private outcome(stepRunId: number): Promise<StepEnd> {
    return new Promise((resolve) => this.waiters.set(stepRunId, { resolve, announced: false }));
  }

  private requireDispatcher(): Dispatcher {
    if (!this.dispatcher) throw new Error('engine used before connect()');
    return this.dispatcher;
  }

  private emitFor(
    buildId: number,
    stepRunId: number,
    type: BuildEventType,
    data: Record<string, unknown>,
    write?: WriteOptions,
  ): void {
    void (async () => {
      const planId = this.planIds.get(stepRunId) ?? (await this.store.getStepRun(stepRunId))?.planId;
      if (planId) await this.events.emit(buildId, type, this.eventData(planId, data), write);
    })().catch((err: unknown) =>
      this.log.error({ err, buildId, stepRunId, type }, 'could not record build event'),
    );
  }

  /** A step's event data: its origin (the plan id, and a log's stream) and the time. */
  private eventData(
    planId: string,
    data: Record<string, unknown>,
    source?: 'stdout' | 'stderr',
  ): Record<string, unknown> {
    return {
      origin: source ? { id: planId, source } : { id: planId },
      ...data,
      time: eventTime(this.now()),
    };
  }

  /**
   * Runs a build (the scheduler calls this for pending builds whose inputs it has chosen). `pipeline`:
   * the build's pipeline as the caller just read it, so that its config version is not read again.
   */
  start(build: BuildView, pipeline?: Pipeline): void {
    if (this.stopped || this.builds.has(build.id)) return;
    const abort = new AbortController();
    const run = new BuildRun(build, {
      store: this.store,
      events: this.events,
      log: this.log.child({ buildId: build.id }),
      now: this.now,
      leaves: this.leaves,
      varSource: (ref) => this.varSources.get(build.pipelineId)?.lookup(ref, build),
      varSourceType: (source) => this.varSources.get(build.pipelineId)?.typeOf(source),
      tracked: (step) => this.planIds.set(step.id, step.planId),
    });
    const running: Running = { run, abort, done: Promise.resolve() };
    this.builds.set(build.id, running);
    running.done = this.execute(running, pipeline)
      .catch((err: unknown) => this.failed(running, err))
      .finally(() => {
        for (const step of run.steps.values()) this.planIds.delete(step.id);
        this.builds.delete(build.id);
        if (!this.stopped) this.options.onBuildEnded(build, running.ended);
      });
  }

  /**
   * The hub is closing its store: a build that fails from now on (its store is gone) is left as it
   * stands, unfinished, for the next start to resume (as after a crash), never recorded as errored.
   * No build starts any more.
   */
  stop(): void {
    this.stopped = true;
  }

  /** A build's run threw: it is errored, unless the hub is stopping (then it resumes at the next start). */
  private async failed(running: Running, err: unknown): Promise<void> {
    const { run, abort } = running;
    const { build } = run;
    if (this.stopped) {
      this.log.info(
        { buildId: build.id, err },
        'build left unfinished by the shutdown; the next start resumes it',
      );
      return;
    }
    this.log.error({ err, buildId: build.id }, 'build failed inside the engine');
    try {
      await run.fail(build.plan, Scope.root(abort.signal), `internal error: ${(err as Error).message}`);
      await this.finish(run, 'errored');
      running.ended = 'errored';
    } catch (recordErr) {
      // The store failed too (or the hub stopped meanwhile): the build stays unfinished, and the stall
      // audit (or the next start) runs it again.
      this.log.error({ err: recordErr, buildId: build.id }, 'could not record the build as errored');
    }
  }

  private async execute(running: Running, pipeline: Pipeline | undefined): Promise<void> {
    const { run, abort } = running;
    const { build } = run;
    // A pending build has run no step yet (it is marked started at the latest with its first step run).
    if (build.status !== 'pending') await run.load();
    await this.loadVarSources(build.pipelineId, pipeline);
    if (build.abortRequested) abort.abort(new AbortReason('user'));
    if (build.status === 'pending') run.deferStart(this.now());
    for (const step of run.steps.values()) this.planIds.set(step.id, step.planId);
    const result = await run.run(build.plan, Scope.root(abort.signal));
    await this.finish(run, result);
    running.ended = result;
  }

  /**
   * The pipeline's `var_sources`, as a lookup by `((source:path))`. The `dummy` type is its `vars` map;
   * `idtoken` signs a token for the build (`((source:token))`, hub/idtoken); the `kubernetes` type is
   * never looked up here (the agent reads it from a Secret, see cluster-secrets.ts); credential
   * managers plug in here.
   */
  private async loadVarSources(pipelineId: number, pipeline: Pipeline | undefined): Promise<void> {
    const sources = (await this.options.configs.get(pipelineId, pipeline)).var_sources;
    const idTokens = this.options.idTokens;
    if (idTokens && sources.some((s) => s.type === 'idtoken')) await idTokens.keys.refresh();
    this.varSources.set(pipelineId, {
      lookup: (ref, build) => {
        const source = sources.find((s) => s.name === ref.source);
        if (source?.type === 'idtoken')
          return ref.path === 'token' && idTokens ? idTokenFor(idTokens, source.config, build) : undefined;
        if (source?.type !== 'dummy') return undefined;
        const vars = source.config.vars;
        return vars && typeof vars === 'object' ? (vars as Record<string, unknown>)[ref.path] : undefined;
      },
      typeOf: (name) => sources.find((s) => s.name === name)?.type,
    });
  }

  private async finish(run: BuildRun, result: Result): Promise<void> {
    const { build } = run;
    // A build that ended before any write of its own (nothing to run, aborted at once) starts first.
    await run.started();
    const at = this.now();
    // In the commit of the last step's end when that ended the build (Dispatcher.finished); what
    // hears of the end (the log line, onBuildEnded: the scheduler, the agents' notices) waits for it.
    await this.store.updateBuild(
      build.id,
      { status: result, endedAt: at },
      statusAnnouncement(this.events, build.id, result, at),
      { deferCommit: true },
    );
    await this.store.durable();
    // A check runs every check_every per resource: its successes would drown the builds people wait for.
    const routine = result === 'succeeded' && isCheckJob(build.jobName);
    this.log[routine ? 'debug' : 'info'](
      {
        team: build.teamName,
        pipeline: build.pipelineName,
        job: build.jobName,
        build: build.name,
        buildId: build.id,
        status: result,
      },
      `${build.teamName}/${build.pipelineName}/${build.jobName} #${build.name} ${result}`,
    );
  }
}

/** What a process pool does not apply of a step; `images`: the pool runs task images (chroot). */
function unhonoured(spec: StepSpec, images: boolean): string[] {
  const out: string[] = [];
  if (spec.image && !images) out.push(`image ${spec.image.repository || 'from an artifact'}`);
  if (spec.privileged) out.push('privileged');
  if (spec.memoryLimitBytes > 0 || spec.cpuShares > 0) out.push('container_limits');
  return out;
}
