// The checker: runs each resource's check build when its `check_every` is due (default 1m, `never`
// never), and on demand (check-resource, webhooks, a manual trigger). At most one check of a resource
// runs at a time; asking again while one runs returns that one, unless it asks from a given version.
// A check is due `check_every` after the previous check's start, as in Concourse; the checker sleeps
// until the earliest due check (at most `tickMs`), so the cadence is check_every, not a multiple of a tick.

import type { Logger } from 'pino';
import type { PipelineConfigs } from '../configs/pipeline-cache.js';
import type { Engine } from '../engine/engine.js';
import { parseDuration } from '../../common/duration.js';
import { nextCheckDue } from '../resources/check-state.js';
import { versionKeyOf } from '../resources/history.js';
import {
  CHECK_JOB_PREFIX,
  type Build,
  type BuildView,
  type ResourceScope,
  type Store,
} from '../store/store.js';

export const DEFAULT_CHECK_EVERY_MS = 60_000;

export interface CheckerOptions {
  /** The longest the checker sleeps between passes (new pipelines and unpaused ones wait at most this). */
  tickMs: number;
}

/** What a check build is asked: which resource (or type), and from which version or how deep. */
export interface CheckAsked {
  pipelineId: number;
  name: string;
  request: NonNullable<Build['checkRequest']>;
  scope: ResourceScope;
}

/** Whether a check asks for no more than a plain check (then a running one serves). */
export function isPlainCheck(request: CheckAsked['request']): boolean {
  return request.from === undefined && request.shallow !== true;
}

/**
 * A check build of the resource (or type), pending until an engine runs it; undefined when there is no
 * such resource. Hub replicas that do not lead create it too, and the leader's engine runs it.
 */
export async function createCheckBuild(
  store: Store,
  { pipelineId, name, request, scope }: CheckAsked,
  at: number,
): Promise<BuildView | undefined> {
  const job = await store.getJob(pipelineId, `${CHECK_JOB_PREFIX[scope]}${name}`);
  if (!job?.active) return undefined;
  return store.createBuild({
    jobId: job.id,
    plan: job.plan,
    at,
    checkRequest: isPlainCheck(request) ? null : request,
  });
}

/**
 * The unfinished check build of the resource (or type), whoever started it: with replicas, another
 * replica may have created it a moment ago (its hint to the leader still on its way).
 */
export async function runningCheck(
  store: Store,
  asked: Omit<CheckAsked, 'request'>,
): Promise<BuildView | undefined> {
  const job = await store.getJob(asked.pipelineId, `${CHECK_JOB_PREFIX[asked.scope]}${asked.name}`);
  if (!job) return undefined;
  const [running] = await store.listBuilds({ jobId: job.id, statuses: ['pending', 'started'], limit: 1 });
  return running;
}

export class Checker {
  /** `${scope}/${pipelineId}/${name}` -> the running check build's id. */
  private readonly running = new Map<string, number>();
  /** Running scheduled checks' keys -> when the next check of that resource is due. */
  private readonly nextDue = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  /** A check outlasted its check_every while a pass ran: pass again at once. */
  private overdue = false;
  private started = false;

  constructor(
    private readonly store: Store,
    private readonly engine: Engine,
    private readonly configs: PipelineConfigs,
    private readonly log: Logger,
    private readonly options: CheckerOptions,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    this.started = true;
    void this.tick();
  }

  stop(): void {
    this.started = false;
    clearTimeout(this.timer);
  }

  /** Whether a check of the resource is running. */
  isChecking(pipelineId: number, resource: string): boolean {
    return this.running.has(checkKey('resource', pipelineId, resource));
  }

  /** The engine finished a build: if it was a check, its resource (or type) may be checked again. */
  ended(build: BuildView): void {
    for (const scope of ['resource', 'type'] as const) {
      const prefix = CHECK_JOB_PREFIX[scope];
      if (!build.jobName.startsWith(prefix)) continue;
      const key = checkKey(scope, build.pipelineId, build.jobName.slice(prefix.length));
      if (this.running.get(key) !== build.id) continue;
      this.running.delete(key);
      const due = this.nextDue.get(key);
      this.nextDue.delete(key);
      // A check that outlasted its check_every: the next one is due now, not at the next tick.
      if (due === undefined || due > this.now()) continue;
      if (this.ticking) this.overdue = true;
      else this.sleepUntil(due);
    }
  }

  /**
   * Starts a check of the resource (or resource type) now, or returns the one running; undefined when
   * there is no such resource.
   */
  async checkNow(
    pipelineId: number,
    name: string,
    request: NonNullable<Build['checkRequest']> = {},
    scope: ResourceScope = 'resource',
  ): Promise<BuildView | undefined> {
    const key = checkKey(scope, pipelineId, name);
    const runningId = this.running.get(key);
    const plain = isPlainCheck(request);
    if (runningId !== undefined && plain) return this.store.getBuild(runningId);
    // Replicas: a check another replica started is joined too, and run here if no engine runs it yet.
    const elsewhere = plain ? await runningCheck(this.store, { pipelineId, name, scope }) : undefined;
    if (elsewhere) {
      this.adopt(elsewhere);
      return elsewhere;
    }
    const build = await createCheckBuild(this.store, { pipelineId, name, request, scope }, this.now());
    if (!build) return undefined;
    this.adopt(build);
    return build;
  }

  /**
   * Runs a check build (made here, or by a replica that does not lead, whose hint brought it): it is the
   * resource's running check from now on, which a check asked meanwhile joins.
   */
  adopt(build: BuildView): void {
    for (const scope of ['resource', 'type'] as const) {
      const prefix = CHECK_JOB_PREFIX[scope];
      if (build.jobName.startsWith(prefix))
        this.running.set(checkKey(scope, build.pipelineId, build.jobName.slice(prefix.length)), build.id);
    }
    this.engine.start(build);
  }

  /** Starts every check that is due, then sleeps until the next one is. */
  async tick(): Promise<void> {
    if (this.ticking) return this.ticking;
    this.ticking = this.checkDue()
      .then(
        (nextDue) => this.sleepUntil(this.overdue ? this.now() : nextDue),
        (err: unknown) => {
          this.log.error({ err }, 'checking resources failed');
          this.sleepUntil(undefined);
        },
      )
      .finally(() => (this.ticking = undefined));
    return this.ticking;
  }

  private sleepUntil(due: number | undefined): void {
    if (!this.started) return;
    clearTimeout(this.timer);
    const wait =
      due === undefined ? this.options.tickMs : Math.min(Math.max(due - this.now(), 0), this.options.tickMs);
    this.timer = setTimeout(() => void this.tick(), wait);
    this.timer.unref();
  }

  /** Starts the due checks; returns when the next one will be due (undefined: none known). */
  private async checkDue(): Promise<number | undefined> {
    this.overdue = false;
    let nextDue: number | undefined;
    const dueAt = (at: number) => (nextDue = nextDue === undefined ? at : Math.min(nextDue, at));
    for (const pipeline of await this.store.listAllPipelines()) {
      if (pipeline.paused) continue;
      const config = await this.configs.get(pipeline.id);
      for (const resource of config.resources) {
        const every = intervalMs(resource.check_every);
        if (every === undefined) continue;
        const key = await versionKeyOf(this.store, config, pipeline.id, { scope: 'resource', ...resource });
        const state = await this.store.resources.getState(pipeline.id, 'resource', resource.name);
        const due = nextCheckDue(state, key, every);
        if (this.isChecking(pipeline.id, resource.name)) {
          // Due again `every` after this check's start; one that runs longer is looked at by the tick.
          if (due !== undefined && due > this.now()) dueAt(due);
          continue;
        }
        if (due !== undefined && this.now() < due) {
          dueAt(due);
          continue;
        }
        await this.checkNow(pipeline.id, resource.name);
        // Its start is recorded once it is dispatched; the pass then will wait for the exact time.
        dueAt(this.now() + every);
        const running = checkKey('resource', pipeline.id, resource.name);
        if (this.running.has(running)) this.nextDue.set(running, this.now() + every);
      }
    }
    return nextDue;
  }
}

function checkKey(scope: ResourceScope, pipelineId: number, name: string): string {
  return `${scope}/${pipelineId}/${name}`;
}

/** `check_every` in ms (1 s at least); undefined for `never`. */
function intervalMs(text: string | undefined): number | undefined {
  if (text === 'never') return undefined;
  if (text === undefined) return DEFAULT_CHECK_EVERY_MS;
  const parsed = parseDuration(text);
  return parsed.ok ? Math.max(1000, parsed.ms) : DEFAULT_CHECK_EVERY_MS;
}
