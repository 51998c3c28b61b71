// What the API asks of the singletons that run on the leading replica only: the scheduler, the checker
// and the engine that runs builds. A single hub and the leader call them directly. Every replica serves
// the API, so another replica does the store part itself (the build it answers is the one the leader
// will run) and sends the leader a hint over LISTEN/NOTIFY for the rest: schedule a pipeline, start a
// build, abort one. A lost hint only delays: the scheduler passes over every pipeline each tick, the
// stall audit starts an unfinished build no engine runs, and the leader re-reads requested aborts every
// recheck (and after its signal connection comes back).

import type { Logger } from 'pino';
import type { Engine } from '../engine/engine.js';
import {
  createCheckBuild,
  isPlainCheck,
  runningCheck,
  type CheckAsked,
  type Checker,
} from '../scheduler/checker.js';
import { createManualBuild, createRerun, type Scheduler } from '../scheduler/scheduler.js';
import { isCheckJob, TERMINAL_BUILD_STATUSES, type BuildView, type Job, type Store } from '../store/store.js';
import type { ReplicaSignals } from './signals.js';
import { storedWaitingReason } from './waiting-reasons.js';

export interface LeaderParts {
  store: Store;
  engine: Engine;
  scheduler: Scheduler;
  checker: Checker;
  /** Undefined for a single hub (SQLite), which leads from the start. */
  signals: ReplicaSignals | undefined;
  log: Logger;
}

export class LeaderActions {
  private leading: boolean;

  constructor(private readonly parts: LeaderParts) {
    this.leading = parts.signals === undefined;
  }

  /** Whether this replica runs the singletons (a single hub always does). */
  get isLeader(): boolean {
    return this.leading;
  }

  /**
   * This replica leads from now on: it does the work itself, and does what the other replicas' hints
   * ask. Returns the function that stops the periodic re-read of requested aborts.
   */
  lead(recheckMs: number): () => void {
    this.leading = true;
    const { signals, engine, scheduler, store, log } = this.parts;
    if (!signals) return () => undefined;
    const ids = (payload: string) => Number(payload);
    signals.on('schedule', (payload) => scheduler.request(ids(payload)));
    signals.on('start_build', (payload) => {
      this.startHinted(ids(payload)).catch((err: unknown) =>
        log.warn({ err, buildId: payload }, 'could not start a build; the stall audit starts it'),
      );
    });
    signals.on('abort_build', (payload) => void this.abortHere(ids(payload)));
    // Aborts asked while a hint was lost: the running builds whose row says so.
    const relayed = new Set<number>();
    const recheck = () => {
      store.listBuilds({ statuses: ['pending', 'started'], limit: 100_000 }).then(
        (builds) => {
          const asked = builds.filter((b) => b.abortRequested && engine.isRunning(b.id));
          for (const id of relayed) if (!asked.some((b) => b.id === id)) relayed.delete(id);
          for (const build of asked)
            if (!relayed.has(build.id)) {
              relayed.add(build.id);
              void this.abortHere(build.id);
            }
        },
        (err: unknown) => log.warn({ err }, 'could not re-read requested aborts'),
      );
    };
    signals.onReconnect(recheck);
    const timer = setInterval(recheck, recheckMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  /** Something about the pipeline changed (config, pause, pins, versions): schedule it again. */
  schedule(pipelineId: number): void {
    if (this.leading) this.parts.scheduler.request(pipelineId);
    else this.hint('schedule', pipelineId);
  }

  /** A manually triggered build of the job, pending until the scheduler starts it. */
  async trigger(job: Job): Promise<BuildView> {
    if (this.leading) return this.parts.scheduler.trigger(job);
    const build = await createManualBuild(this.parts.store, job, Date.now());
    this.hint('schedule', job.pipelineId);
    return build;
  }

  /** A rerun of a job build, pending until the scheduler starts it. */
  async rerun(of: BuildView): Promise<BuildView> {
    if (this.leading) return this.parts.scheduler.rerun(of);
    const build = await createRerun(this.parts.store, of, Date.now());
    this.hint('schedule', of.pipelineId);
    return build;
  }

  /** Runs a build no scheduler starts (a one-off build). */
  start(build: BuildView): void {
    if (this.leading) this.parts.engine.start(build);
    else this.hint('start_build', build.id);
  }

  /** Asks an unfinished build to abort; false when it is unknown or has already finished. */
  async abort(buildId: number): Promise<boolean> {
    if (this.leading) return this.parts.engine.abort(buildId);
    const { store } = this.parts;
    const build = await store.getBuild(buildId);
    if (!build || TERMINAL_BUILD_STATUSES.includes(build.status)) return false;
    await store.updateBuild(buildId, { abortRequested: true });
    this.hint('abort_build', buildId);
    return true;
  }

  /** Starts a check of the resource (or type), or returns the one running; undefined: no such resource. */
  async checkNow(asked: CheckAsked): Promise<BuildView | undefined> {
    const { store, checker } = this.parts;
    if (this.leading) return checker.checkNow(asked.pipelineId, asked.name, asked.request, asked.scope);
    const running = isPlainCheck(asked.request) ? await runningCheck(store, asked) : undefined;
    if (running) return running;
    const build = await createCheckBuild(store, asked, Date.now());
    if (build) this.hint('start_build', build.id);
    return build;
  }

  /**
   * Whether an engine runs the build (or is about to): the leader knows; another replica judges by the
   * stored status, as the leader runs every started build and every pending check and one-off build.
   */
  runs(build: BuildView): boolean {
    if (this.leading) return this.parts.engine.isRunning(build.id);
    return (
      build.status === 'started' ||
      (build.status === 'pending' && (build.oneOff || isCheckJob(build.jobName)))
    );
  }

  /**
   * Why an unfinished build does not progress. A single hub's engine knows a started build's reason (a
   * step waiting for an agent); replicas read it from the store, so that every one answers the same.
   */
  async waitingReason(build: BuildView): Promise<string | null> {
    const { engine, signals, store } = this.parts;
    if (build.status === 'pending' && !this.runs(build))
      return build.pendingReason ?? 'waiting for the scheduler';
    return signals ? storedWaitingReason(store, build) : engine.waitingReason(build.id);
  }

  /**
   * A build another replica created for the leader to run (a one-off build, a check): a check is the
   * checker's, so that it knows the resource is being checked (no second check starts beside it).
   */
  private async startHinted(buildId: number): Promise<void> {
    const { store, engine, checker } = this.parts;
    const build = await store.getBuild(buildId);
    if (!build || TERMINAL_BUILD_STATUSES.includes(build.status) || engine.isRunning(buildId)) return;
    if (isCheckJob(build.jobName)) checker.adopt(build);
    else engine.start(build);
  }

  private async abortHere(buildId: number): Promise<void> {
    await this.parts.engine
      .abort(buildId)
      .catch((err: unknown) => this.parts.log.warn({ err, buildId }, 'could not abort a build'));
  }

  private hint(channel: 'schedule' | 'start_build' | 'abort_build', id: number): void {
    this.parts.signals?.publish(channel, String(id));
  }
}
