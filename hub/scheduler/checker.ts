// The checker: runs each resource's check build when its `check_every` is due (default 1m, `never`
// never), and on demand (check-resource, webhooks, a manual trigger). At most one check of a resource
// runs at a time; asking again while one runs returns that one, unless it asks from a given version.

import type { Logger } from 'pino';
import type { PipelineConfigs } from '../configs/pipeline-cache.js';
import type { Engine } from '../engine/engine.js';
import { versionKeyOf } from '../engine/resource-step.js';
import { parseDuration } from '../pipeline/duration.js';
import {
  CHECK_JOB_PREFIX,
  type BuildView,
  type ResourceScope,
  type Store,
  type Version,
} from '../store/store.js';

export const DEFAULT_CHECK_EVERY_MS = 60_000;

export interface CheckerOptions {
  /** How often due checks are looked for. */
  tickMs: number;
}

export class Checker {
  /** `${scope}/${pipelineId}/${name}` -> the running check build's id. */
  private readonly running = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;

  constructor(
    private readonly store: Store,
    private readonly engine: Engine,
    private readonly configs: PipelineConfigs,
    private readonly log: Logger,
    private readonly options: CheckerOptions,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.options.tickMs);
    this.timer.unref();
    void this.tick();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Whether a check of the resource is running. */
  isChecking(pipelineId: number, resource: string): boolean {
    return this.running.has(`resource/${pipelineId}/${resource}`);
  }

  /** The engine finished a build: if it was a check, its resource (or type) may be checked again. */
  ended(build: BuildView): void {
    for (const scope of ['resource', 'type'] as const) {
      const prefix = CHECK_JOB_PREFIX[scope];
      if (!build.jobName.startsWith(prefix)) continue;
      const key = `${scope}/${build.pipelineId}/${build.jobName.slice(prefix.length)}`;
      if (this.running.get(key) === build.id) this.running.delete(key);
    }
  }

  /**
   * Starts a check of the resource (or resource type) now, or returns the one running; undefined when
   * there is no such resource.
   */
  async checkNow(
    pipelineId: number,
    name: string,
    from?: Version,
    scope: ResourceScope = 'resource',
  ): Promise<BuildView | undefined> {
    const key = `${scope}/${pipelineId}/${name}`;
    const runningId = this.running.get(key);
    if (runningId !== undefined && from === undefined) return this.store.getBuild(runningId);
    const job = await this.store.getJob(pipelineId, `${CHECK_JOB_PREFIX[scope]}${name}`);
    if (!job?.active) return undefined;
    const created = await this.store.createBuild({
      jobId: job.id,
      plan: job.plan,
      at: this.now(),
      checkRequest: from ? { from } : null,
    });
    const build = await this.store.getBuild(created.id);
    if (!build) return undefined;
    this.running.set(key, build.id);
    this.engine.start(build);
    return build;
  }

  /** Starts every check that is due. */
  async tick(): Promise<void> {
    if (this.ticking) return this.ticking;
    this.ticking = this.checkDue()
      .catch((err: unknown) => this.log.error({ err }, 'checking resources failed'))
      .finally(() => (this.ticking = undefined));
    return this.ticking;
  }

  private async checkDue(): Promise<void> {
    for (const pipeline of await this.store.listAllPipelines()) {
      if (pipeline.paused) continue;
      const config = await this.configs.get(pipeline.id);
      for (const resource of config.resources) {
        if (this.isChecking(pipeline.id, resource.name)) continue;
        const every = intervalMs(resource.check_every);
        if (every === undefined) continue;
        const state = await this.store.resources.getState(pipeline.id, 'resource', resource.name);
        const key = await versionKeyOf(this.store, config, pipeline.id, { scope: 'resource', ...resource });
        const fresh = state?.configHash === key.configHash;
        if (fresh && state.lastCheckStartedAt !== null && this.now() - state.lastCheckStartedAt < every)
          continue;
        await this.checkNow(pipeline.id, resource.name);
      }
    }
  }
}

/** `check_every` in ms; undefined for `never`. */
function intervalMs(text: string | undefined): number | undefined {
  if (text === 'never') return undefined;
  if (text === undefined) return DEFAULT_CHECK_EVERY_MS;
  const parsed = parseDuration(text);
  return parsed.ok ? Math.max(1000, parsed.ms) : DEFAULT_CHECK_EVERY_MS;
}
