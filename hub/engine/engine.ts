// Runs builds: walks a build's plan tree and turns each leaf step into a step run for the dispatcher.
//
// The walk is a replay over persisted state: a leaf first looks for its step run in the store and only
// creates one when there is none. So after a hub restart, `resumeAll()` simply runs every unfinished
// build again: finished steps return their stored result at once, running ones are awaited (their
// agents reconnect), pending ones are queued again. Nothing about a build lives only in memory.

import type { Logger } from 'pino';
import type { BuildEvents } from '../events/build-events.js';
import { eventTime } from '../events/build-events.js';
import type { Dispatcher, DispatchListener } from '../dispatch/dispatcher.js';
import type { StepContext, StepOutcome, StepSpec } from '../dispatch/types.js';
import type { PlanNode, TaskPlan } from '../pipeline/plan.js';
import { TERMINAL_BUILD_STATUSES, type BuildView, type StepRun, type Store } from '../store/store.js';
import { taskStepSpec } from './task-spec.js';

type Result = 'succeeded' | 'failed' | 'errored' | 'aborted';

interface StoredSpec {
  spec: StepSpec;
  context: StepContext;
}

interface RunningBuild {
  build: BuildView;
  abort: AbortController;
  done: Promise<void>;
  /** Step runs of this build by plan id, loaded once when the run starts. */
  steps: Map<string, StepRun>;
}

const TERMINAL_STEP = new Set(['succeeded', 'failed', 'errored', 'aborted']);

export class Engine implements DispatchListener {
  private readonly builds = new Map<number, RunningBuild>();
  private readonly waiters = new Map<number, (outcome: StepOutcome) => void>();
  private dispatcher: Dispatcher | undefined;

  constructor(
    private readonly store: Store,
    private readonly events: BuildEvents,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** The dispatcher needs the engine as its listener, so it is connected after both exist. */
  connect(dispatcher: Dispatcher): void {
    this.dispatcher = dispatcher;
  }

  /** Creates a build of the job and starts it. */
  async trigger(jobId: number): Promise<BuildView> {
    const job = await this.store.getJobById(jobId);
    if (!job) throw new Error(`job ${jobId} not found`);
    const created = await this.store.createBuild({ jobId, plan: job.plan, at: this.now() });
    const build = await this.store.getBuild(created.id);
    if (!build) throw new Error(`build ${created.id} vanished`);
    this.start(build);
    return build;
  }

  /** Resumes every unfinished build (hub start). */
  async resumeAll(): Promise<number> {
    const unfinished = await this.store.listBuilds({ statuses: ['pending', 'started'], limit: 100_000 });
    for (const build of unfinished.reverse()) this.start(build);
    return unfinished.length;
  }

  async abort(buildId: number): Promise<void> {
    const build = await this.store.getBuild(buildId);
    if (!build || TERMINAL_BUILD_STATUSES.includes(build.status)) return;
    await this.store.updateBuild(buildId, { abortRequested: true });
    const running = this.builds.get(buildId);
    if (running) {
      running.abort.abort();
      for (const run of await this.store.listStepRuns(buildId)) {
        if (!TERMINAL_STEP.has(run.status)) await this.requireDispatcher().abort(run.id, 'interrupted');
      }
    }
  }

  /** Resolves when every build this engine runs has settled (tests and shutdown). */
  async idle(): Promise<void> {
    while (this.builds.size > 0) await Promise.all([...this.builds.values()].map((b) => b.done));
  }

  /** Why the build is not progressing right now, if a step of it is waiting for an agent. */
  async waitingReason(buildId: number): Promise<string | null> {
    if (!this.dispatcher) return null;
    for (const run of await this.store.listStepRuns(buildId)) {
      const reason = this.dispatcher.waitingReasonFor(run.id);
      if (reason) return reason;
    }
    return null;
  }

  // DispatchListener
  waiting(stepRunId: number, buildId: number, reason: string): void {
    this.emitFor(buildId, stepRunId, 'waiting-for-worker', (origin) => ({
      origin,
      reason,
      time: eventTime(this.now()),
    }));
  }

  selected(stepRunId: number, buildId: number, agentName: string, pool: string): void {
    this.emitFor(buildId, stepRunId, 'selected-worker', (origin) => ({
      origin,
      selected_worker: agentName,
      pool,
      time: eventTime(this.now()),
    }));
  }

  ended(stepRunId: number, _buildId: number, outcome: StepOutcome): void {
    const resolve = this.waiters.get(stepRunId);
    this.waiters.delete(stepRunId);
    resolve?.(outcome);
  }

  /** The agent started the step's process. */
  async stepStarted(stepRunId: number): Promise<void> {
    const run = await this.store.getStepRun(stepRunId);
    if (!run) return;
    const { spec } = run.spec as StoredSpec;
    await this.events.emit(run.buildId, 'start-task', {
      origin: { id: run.planId },
      time: eventTime(this.now()),
      config: {
        platform: spec.platform,
        run: { path: spec.run.path, args: spec.run.args, dir: spec.run.dir },
      },
    });
  }

  private requireDispatcher(): Dispatcher {
    if (!this.dispatcher) throw new Error('engine used before connect()');
    return this.dispatcher;
  }

  private emitFor(
    buildId: number,
    stepRunId: number,
    type: string,
    data: (origin: { id: string }) => unknown,
  ): void {
    void (async () => {
      const run = await this.store.getStepRun(stepRunId);
      if (run) await this.events.emit(buildId, type, data({ id: run.planId }));
    })().catch((err: unknown) =>
      this.log.error({ err, buildId, stepRunId, type }, 'could not record build event'),
    );
  }

  private start(build: BuildView): void {
    if (this.builds.has(build.id)) return;
    const running: RunningBuild = {
      build,
      abort: new AbortController(),
      done: Promise.resolve(),
      steps: new Map(),
    };
    this.builds.set(build.id, running);
    running.done = this.run(running)
      .catch(async (err: unknown) => {
        this.log.error({ err, buildId: build.id }, 'build failed inside the engine');
        await this.finish(running, 'errored', `internal error: ${(err as Error).message}`);
      })
      .finally(() => this.builds.delete(build.id));
  }

  private async run(running: RunningBuild): Promise<void> {
    const { build } = running;
    for (const run of await this.store.listStepRuns(build.id)) running.steps.set(run.planId, run);
    if (build.abortRequested) running.abort.abort();
    if (build.status === 'pending') {
      await this.store.updateBuild(build.id, { status: 'started', startedAt: this.now() });
      await this.events.emit(build.id, 'status', { status: 'started', time: eventTime(this.now()) });
    }
    const result = await this.runNode(running, build.plan);
    await this.finish(running, result);
  }

  private async finish(running: RunningBuild, result: Result, error?: string): Promise<void> {
    const at = this.now();
    if (error)
      await this.events.emit(running.build.id, 'error', {
        origin: { id: running.build.plan.id },
        message: error,
        time: eventTime(at),
      });
    await this.store.updateBuild(running.build.id, { status: result, endedAt: at });
    await this.events.emit(running.build.id, 'status', { status: result, time: eventTime(at) });
  }

  private async runNode(running: RunningBuild, node: PlanNode): Promise<Result> {
    switch (node.kind) {
      case 'do':
        for (const step of node.steps) {
          const result = await this.runNode(running, step);
          if (result !== 'succeeded') return result;
        }
        return 'succeeded';
      case 'task':
        return this.runTask(running, node);
      default:
        await this.events.emit(running.build.id, 'error', {
          origin: { id: node.id },
          message: `${node.kind} steps are not supported yet`,
          time: eventTime(this.now()),
        });
        return 'errored';
    }
  }

  private async runTask(running: RunningBuild, node: TaskPlan): Promise<Result> {
    const { build } = running;
    let run = running.steps.get(node.id);
    if (run && TERMINAL_STEP.has(run.status)) return run.status as Result;
    if (!run && running.abort.signal.aborted) return 'aborted';

    if (!run) {
      const stored: StoredSpec = {
        spec: taskStepSpec(node, node.config ?? failNoConfig(node), build.teamName),
        context: {
          team: build.teamName,
          pipeline: build.pipelineName,
          job: build.jobName,
          buildName: build.name,
          buildId: build.id,
          stepName: node.name,
          stepRunId: 0,
        },
      };
      run = await this.store.createStepRun({
        buildId: build.id,
        planId: node.id,
        name: node.name,
        spec: stored,
        at: this.now(),
      });
      stored.context.stepRunId = run.id;
      running.steps.set(node.id, run);
      await this.events.emit(build.id, 'initialize-task', {
        origin: { id: node.id },
        time: eventTime(this.now()),
      });
    }
    const stepRunId = run.id;
    const outcome = new Promise<StepOutcome>((resolve) => this.waiters.set(stepRunId, resolve));
    // Between loading and registering the step may have ended: the store is the judge.
    const current = await this.store.getStepRun(run.id);
    if (current && TERMINAL_STEP.has(current.status)) {
      this.waiters.delete(run.id);
      return this.report(build.id, node, outcomeOf(current));
    }
    if (current?.status === 'pending') {
      const { spec, context } = current.spec as StoredSpec;
      await this.requireDispatcher().enqueue(current, spec, { ...context, stepRunId: current.id });
    }
    if (running.abort.signal.aborted) await this.requireDispatcher().abort(run.id, 'interrupted');
    return this.report(build.id, node, await outcome);
  }

  private async report(buildId: number, node: TaskPlan, outcome: StepOutcome): Promise<Result> {
    const origin = { id: node.id };
    const time = eventTime(this.now());
    if (outcome.error) await this.events.emit(buildId, 'error', { origin, message: outcome.error, time });
    if (outcome.exitStatus !== null && outcome.exitStatus >= 0) {
      await this.events.emit(buildId, 'finish-task', { origin, exit_status: outcome.exitStatus, time });
    }
    return outcome.status;
  }
}

function outcomeOf(run: StepRun): StepOutcome {
  return { status: run.status as Result, exitStatus: run.exitStatus, error: run.error };
}

function failNoConfig(node: TaskPlan): never {
  throw new Error(`task "${node.name}" has no inline config`);
}
