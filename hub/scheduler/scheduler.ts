// The scheduler decides when job builds exist and when they start (design §1 scheduler/):
// - a new build when a `trigger: true` input has a version no earlier build of the job used;
// - a pending build starts once its pipeline and job are unpaused, `serial`/`serial_groups`/
//   `max_in_flight` allow it, a manual build's unpinned inputs without `passed` have been checked
//   since it was triggered, and every input has a version (inputs.ts); its inputs are recorded then;
// - a rerun (`N.1`) starts once limits allow, with the inputs of the build it reruns.
// Every pending build carries the reason it waits, in words, shown by the API and the CLI.
//
// Work is per pipeline and serialized: a request while a pass runs marks the pipeline for another pass.
// A manual trigger of a job with no inputs and no limits starts its build without a pass (trigger).
//
// A build's end changes what the scheduler decides only when something of its pipeline waits for it: a
// pending build (held by `serial`, `serial_groups` or `max_in_flight`), or a job whose inputs pass
// through the build's job (`passed`). Each pass remembers which; an end that touches neither needs no
// pass (most builds of a busy hub end so), and one during a pass of its pipeline is weighed at its end.

import type { Logger } from 'pino';
import type { PipelineConfigs } from '../configs/pipeline-cache.js';
import type { Engine } from '../engine/engine.js';
import { eventTime, type BuildEvents } from '../events/build-events.js';
import { canonicalJson } from '../store/canonical-json.js';
import { jobInputs } from '../pipeline/checks.js';
import type { ParsedPipeline } from '../pipeline/config.js';
import type { GetPlan } from '../pipeline/plan.js';
import { checkedSince } from '../resources/check-state.js';
import { getVersionChoice } from '../resources/get-version.js';
import { declaredKeyOf, stepResource, versionKeyOf } from '../resources/history.js';
import type { BuildView, Job, Pipeline, Store, Version, WriteOptions } from '../store/store.js';
import type { Checker } from './checker.js';
import { resolveInputs, type InputSpec } from './inputs.js';

export interface SchedulerOptions {
  /** A pass over every pipeline this often, as a safety net for changes nobody announced. */
  tickMs: number;
}

/**
 * A manually triggered build, pending until a scheduling pass of its pipeline starts it. Hub replicas
 * that do not lead create it too, and ask the leader's scheduler for the pass (hub/replicas).
 */
export function createManualBuild(
  store: Store,
  job: Job,
  at: number,
  write?: WriteOptions,
): Promise<BuildView> {
  return store.createBuild({ jobId: job.id, plan: job.plan, at, manual: true }, write);
}

/** A rerun (`N.1`, `N.2`, ...) of a job build, pending like a manual build. */
export async function createRerun(store: Store, of: BuildView, at: number): Promise<BuildView> {
  const created = await store.reruns.create(of.id, at);
  const build = await store.getBuild(created.id);
  if (!build) throw new Error(`build ${created.id} vanished`);
  return build;
}

/** What a pipeline's last pass found that a build's end may move on. */
interface EndWatch {
  /** Builds still pending after the pass. */
  pending: boolean;
  /** Jobs that some job's input names in `passed`. */
  upstream: Set<number>;
}

export class Scheduler {
  private readonly dirty = new Set<number>();
  /** Per pipeline, from its last complete pass; none: unknown (a build's end then schedules it). */
  private readonly endWatch = new Map<number, EndWatch>();
  /** The pipeline a pass is on, and the jobs whose builds ended meanwhile. */
  private current: { pipelineId: number; ended: Set<number> } | undefined;
  private pass: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Resolves when the current pass (and any it caused) is over: tests and shutdown wait on it. */
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly store: Store,
    private readonly engine: Engine,
    private readonly checker: Checker,
    private readonly configs: PipelineConfigs,
    private readonly events: BuildEvents,
    private readonly log: Logger,
    private readonly options: SchedulerOptions,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.requestAll(), this.options.tickMs);
    this.timer.unref();
    void this.requestAll();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Something about the pipeline changed (versions, a build ended, config, pause): schedule it again. */
  request(pipelineId: number): void {
    this.dirty.add(pipelineId);
    this.pass ??= this.run().finally(() => {
      this.pass = undefined;
      for (const wake of this.idleWaiters.splice(0)) wake();
    });
  }

  /** A build ended: schedules its pipeline again if something there may wait for that (see above). */
  buildEnded(build: BuildView): void {
    const watch = this.endWatch.get(build.pipelineId);
    if (watch === undefined || watch.pending || watch.upstream.has(build.jobId))
      return this.request(build.pipelineId);
    // The pass under way may not have seen the end: it decides once it knows what waits.
    if (this.current?.pipelineId === build.pipelineId) this.current.ended.add(build.jobId);
  }

  async requestAll(): Promise<void> {
    for (const pipeline of await this.store.listAllPipelines()) this.request(pipeline.id);
  }

  /**
   * Creates a manually triggered build; it starts once the scheduler lets it. It may resolve before the
   * build is committed (a build started at once shares that commit with its first step run and the
   * turn's other writes: hub/store/commit-batch.ts); the API's answer waits for the commit.
   */
  async trigger(job: Job): Promise<BuildView> {
    const pipeline = await this.startsAtOnce(job);
    const build = await createManualBuild(this.store, job, this.now(), {
      deferCommit: pipeline !== undefined,
    });
    if (pipeline) this.engine.start(build, pipeline);
    else this.request(job.pipelineId);
    return build;
  }

  /**
   * Whether a manual build of the job can start without a pass (then its pipeline, as read): nothing
   * to choose or wait for (no inputs, no `serial`, `serial_groups` or `max_in_flight`), nothing paused,
   * no build of the job waiting that the engine does not run (those it runs have started: their start
   * is stored with their first step). A pass over the pipeline would decide just that, at the cost of
   * reading all of it.
   */
  private async startsAtOnce(job: Job): Promise<Pipeline | undefined> {
    const { maxInFlight, serialGroups } = job.schedule;
    if (job.paused || maxInFlight > 0 || serialGroups.length > 0 || jobInputs(job.plan).length > 0)
      return undefined;
    const pipeline = await this.store.getPipelineById(job.pipelineId);
    if (!pipeline || pipeline.paused) return undefined;
    const pending = await this.store.pendingBuildsOfJob({ pipelineId: job.pipelineId, jobId: job.id });
    return pending.every((id) => this.engine.isRunning(id)) ? pipeline : undefined;
  }

  /** Creates a rerun of a job build (`N.1`, `N.2`, ...): the same inputs, started once limits allow. */
  async rerun(of: BuildView): Promise<BuildView> {
    const build = await createRerun(this.store, of, this.now());
    this.request(of.pipelineId);
    return build;
  }

  async idle(): Promise<void> {
    while (this.pass) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private async run(): Promise<void> {
    while (this.dirty.size > 0) {
      const [pipelineId] = this.dirty;
      if (pipelineId === undefined) break;
      this.dirty.delete(pipelineId);
      const current = { pipelineId, ended: new Set<number>() };
      this.current = current;
      const watch = await this.schedule(pipelineId).catch((err: unknown) => {
        this.log.error({ err, pipelineId }, 'scheduling failed');
        return undefined;
      });
      this.current = undefined;
      if (watch) this.endWatch.set(pipelineId, watch);
      else this.endWatch.delete(pipelineId);
      const moves = (jobId: number) => !watch || watch.upstream.has(jobId);
      if ((watch?.pending && current.ended.size > 0) || [...current.ended].some(moves))
        this.request(pipelineId);
    }
  }

  /** One pass over the pipeline; what a build's end may move on after it, or none if it is gone. */
  private async schedule(pipelineId: number): Promise<EndWatch | undefined> {
    const pipeline = await this.store.getPipelineById(pipelineId);
    if (!pipeline) return undefined;
    const config = await this.configs.get(pipelineId);
    const jobs = await this.store.listJobs(pipelineId);
    const pending = (
      await this.store.listBuilds({ pipelineId, statuses: ['pending'], jobKind: 'job', limit: 100_000 })
    ).reverse();
    const passed = new Set(jobs.flatMap((job) => jobInputs(job.plan).flatMap((get) => get.passed)));
    const watch: EndWatch = {
      pending: false,
      upstream: new Set(jobs.filter((job) => passed.has(job.name)).map((job) => job.id)),
    };
    for (const job of jobs) {
      const inputs = jobInputs(job.plan);
      // Read once per job and pass, and again only after a build started (it used versions).
      let specs: InputSpec[] | undefined;
      const currentSpecs = async () => (specs ??= await this.inputSpecs(job, inputs, config, jobs));
      const mine = pending.filter((b) => b.jobId === job.id);
      const waiting = mine.every((b) => b.manual || b.rerunOf !== null);
      if (!pipeline.paused && !job.paused && waiting && inputs.some((g) => g.trigger)) {
        const created = await this.autoTrigger(job, inputs, await currentSpecs());
        if (created) mine.push(created);
      }
      for (const build of mine) {
        if (this.engine.isRunning(build.id)) continue;
        // A manual build's checks may have ended during this pass: it reads the versions afresh.
        if (build.manual) specs = undefined;
        const reason = await this.tryStart(build, job, jobs, pipeline, config, inputs, currentSpecs);
        if (reason === null) specs = undefined;
        if (reason !== build.pendingReason) {
          await this.store.updateBuild(build.id, { pendingReason: reason });
          // Also in the build's log (a log event of no step), so `watch` shows why nothing happens yet.
          if (reason !== null)
            await this.events.emit(build.id, 'log', {
              origin: {},
              payload: `pending: ${reason}\n`,
              time: eventTime(this.now()),
            });
        }
        // Builds of a job start in order: a later one never overtakes one that waits.
        if (reason !== null) {
          watch.pending = true;
          break;
        }
      }
    }
    return watch;
  }

  /** A new build when a trigger input has a version no earlier build of the job used. */
  private async autoTrigger(job: Job, inputs: GetPlan[], specs: InputSpec[]): Promise<BuildView | undefined> {
    const resolution = resolveInputs(specs);
    if (!resolution.ok) return undefined;
    const fresh = inputs.some((g) => {
      const chosen = resolution.chosen.get(g.name);
      const spec = specs.find((s) => s.name === g.name);
      return g.trigger && chosen !== undefined && spec !== undefined && !spec.used.has(chosen);
    });
    if (!fresh) return undefined;
    const build = await this.store.createBuild({ jobId: job.id, plan: job.plan, at: this.now() });
    this.log.info(
      { team: build.teamName, pipeline: build.pipelineName, job: build.jobName, build: build.name },
      `${build.teamName}/${build.pipelineName}/${build.jobName} #${build.name}: new versions triggered it`,
    );
    return build;
  }

  /** Starts the build, or says why it cannot start yet. */
  private async tryStart(
    build: BuildView,
    job: Job,
    jobs: Job[],
    pipeline: Pipeline,
    config: ParsedPipeline,
    inputs: GetPlan[],
    specs: () => Promise<InputSpec[]>,
  ): Promise<string | null> {
    if (pipeline.paused) return 'pipeline is paused';
    if (job.paused) return 'job is paused';
    const limit = this.limitReason(job, jobs);
    if (limit) return limit;
    // A rerun fetches the versions of the build it reruns, recorded when it was created.
    if (build.rerunOf !== null) {
      this.engine.start(build);
      return null;
    }
    if (build.manual) {
      const waiting = await this.checksFor(build, inputs, config);
      if (waiting.length > 0) return `waiting for the check of ${waiting.join(', ')}`;
    }
    const resolution = resolveInputs(await specs());
    if (!resolution.ok) return resolution.reason;
    // The versions were chosen from the config this pass read: if the pipeline was set since, they may
    // belong to a source it no longer has. Choose again from the new one.
    if ((await this.store.getPipelineById(pipeline.id))?.configVersion !== pipeline.configVersion) {
      this.request(pipeline.id);
      return 'the pipeline config changed; choosing its inputs again';
    }
    await this.store.resources.addBuildResources(
      build.id,
      inputs.flatMap((g) => {
        const versionId = resolution.chosen.get(g.name);
        return versionId === undefined
          ? []
          : [{ direction: 'input' as const, name: g.name, resource: g.resource, versionId }];
      }),
    );
    this.engine.start(build);
    return null;
  }

  /** Why `serial`, `serial_groups` or `max_in_flight` hold the job back; undefined when they do not. */
  private limitReason(job: Job, jobs: Job[]): string | undefined {
    const { maxInFlight, serialGroups } = job.schedule;
    if (maxInFlight > 0) {
      const running = this.engine.runningOf(new Set([job.id]));
      if (running >= maxInFlight)
        return `waiting for max_in_flight: ${running} of ${maxInFlight} builds running`;
    }
    for (const group of serialGroups) {
      const members = new Set(jobs.filter((j) => j.schedule.serialGroups.includes(group)).map((j) => j.id));
      if (this.engine.runningOf(members) > 0)
        return `waiting for serial group "${group}": a build of it is running`;
    }
    return undefined;
  }

  /**
   * A manual build first checks every input that has no `passed` and no pin (even with check_every:
   * never) and waits for those checks. Returns the resources still being checked.
   */
  private async checksFor(build: BuildView, inputs: GetPlan[], config: ParsedPipeline): Promise<string[]> {
    const waiting: string[] = [];
    const resources = new Set(
      inputs
        .filter((g) => g.passed.length === 0 && typeof g.version !== 'object')
        .map((g) => g.resource)
        .filter((r) => config.resources.find((d) => d.name === r)?.version === undefined),
    );
    for (const resource of resources) {
      const state = await this.store.resources.getState(build.pipelineId, 'resource', resource);
      if (state?.pinnedVersion) continue;
      const key = await declaredKeyOf(this.store, config, build.pipelineId, resource);
      // A check that started after the trigger and has ended since.
      const running = this.checker.isChecking(build.pipelineId, resource);
      if (checkedSince(state, key, build.createdAt, running)) continue;
      waiting.push(resource);
      if (!running) await this.checker.checkNow(build.pipelineId, resource);
    }
    return waiting;
  }

  /** What the input resolver needs to know about each get of the job. */
  private async inputSpecs(
    job: Job,
    inputs: GetPlan[],
    config: ParsedPipeline,
    jobs: Job[],
  ): Promise<InputSpec[]> {
    const { resources } = this.store;
    const specs: InputSpec[] = [];
    for (const get of inputs) {
      const declared = config.resources.find((r) => r.name === get.resource);
      const key = await versionKeyOf(this.store, config, job.pipelineId, stepResource(config, get));
      let versions = await resources.listVersions(key);
      const state = await resources.getState(job.pipelineId, 'resource', get.resource);
      const choice = getVersionChoice(
        get.resource,
        get.version,
        declared?.version,
        state?.pinnedVersion ?? undefined,
      );
      let pinProblem = choice.kind === 'unusable' ? choice.problem : undefined;
      if (choice.kind === 'pinned') {
        const wanted = canonicalJson(choice.version);
        versions = versions.filter((v) => canonicalJson(v.version) === wanted);
        if (versions.length === 0)
          pinProblem = `pinned version ${wanted} of resource "${get.resource}" is not one of its versions`;
      }
      // Earlier builds' versions, matched by value to this history's (they may be of an older one).
      const idOf = new Map(versions.map((v) => [canonicalJson(v.version), v.id]));
      const idsOf = (found: Version[]) => found.flatMap((v) => idOf.get(canonicalJson(v)) ?? []);
      const passed = new Map<string, Map<number, Set<number>>>();
      for (const name of get.passed) {
        const upstream = jobs.find((j) => j.name === name);
        const byVersion = new Map<number, Set<number>>();
        for (const row of upstream ? await resources.passedVersions(upstream.id, get.resource) : []) {
          const [id] = idsOf([row.version]);
          if (id === undefined) continue;
          const set = byVersion.get(id) ?? new Set<number>();
          set.add(row.buildId);
          byVersion.set(id, set);
        }
        passed.set(name, byVersion);
      }
      specs.push({
        name: get.name,
        resource: get.resource,
        versions: versions.map((v) => ({ id: v.id, order: v.checkOrder })),
        ...(pinProblem === undefined ? {} : { pinProblem }),
        passed,
        every: choice.kind === 'every',
        used: new Set(idsOf(await resources.usedVersions(job.id, get.name))),
      });
    }
    return specs;
  }
}
