// Where the agent keeps task `caches` between builds: one directory per team, pipeline, job, step and
// cache path (Concourse keeps them per worker, job and step too). Two builds of the same step on this
// agent at once cannot share one directory, so the second gets a throwaway one. clear-task-cache gives
// the step a new generation (StepContext.cacheGeneration): the step's next build gets a fresh directory,
// and the older generations of the step are removed then.

import { createHash, randomUUID } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { StepContext } from './executors/executor.js';

export interface AcquiredCaches {
  caches: { path: string; dir: string }[];
  release: () => Promise<void>;
}

export class TaskCaches {
  private readonly inUse = new Set<string>();

  constructor(private readonly root: string) {}

  acquire(context: StepContext | undefined, paths: readonly string[]): AcquiredCaches {
    if (!context || paths.length === 0) return { caches: [], release: () => Promise.resolve() };
    const step = [context.team, context.pipeline, context.job, context.stepName].map(safe).join(path.sep);
    const generation = context.cacheGeneration ?? 0;
    // Generation 0 keeps the layout caches had before generations existed.
    const key = generation === 0 ? step : path.join(step, `.generation-${generation}`);
    if (this.inUse.has(key)) {
      const transient = path.join(this.root, '.transient', randomUUID());
      return {
        caches: paths.map((p) => ({ path: p, dir: path.join(transient, hash(p)) })),
        release: () => rm(transient, { recursive: true, force: true }),
      };
    }
    this.inUse.add(key);
    // A cache that cannot be removed now is retried at the step's next build.
    const stale =
      generation === 0
        ? Promise.resolve()
        : this.removeOlderGenerations(step, generation).catch(() => undefined);
    return {
      caches: paths.map((p) => ({ path: p, dir: path.join(this.root, key, hash(p)) })),
      release: async () => {
        this.inUse.delete(key);
        await stale;
      },
    };
  }

  /** Best effort: the step's caches of generations before `generation` that no running step holds. */
  private async removeOlderGenerations(step: string, generation: number): Promise<void> {
    const dir = path.join(this.root, step);
    const entries = await readdir(dir).catch(() => [] as string[]);
    for (const entry of entries) {
      const older = /^\.generation-(\d+)$/.exec(entry);
      const stale = older ? Number(older[1]) < generation : /^[0-9a-f]{16}$/.test(entry);
      const held = this.inUse.has(older ? path.join(step, entry) : step);
      if (stale && !held) await rm(path.join(dir, entry), { recursive: true, force: true });
    }
  }
}

/** A name as one safe path segment (names are identifiers already; this guards against the odd one). */
function safe(name: string): string {
  return encodeURIComponent(name).replace(/^\.+/, '_');
}

function hash(cachePath: string): string {
  return createHash('sha256').update(cachePath).digest('hex').slice(0, 16);
}
