// Where the agent keeps task `caches` between builds: one directory per team, pipeline, job, step and
// cache path (Concourse keeps them per worker, job and step too). Two builds of the same step on this
// agent at once cannot share one directory, so the second gets a throwaway one.

import { createHash, randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
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
    const key = [context.team, context.pipeline, context.job, context.stepName].map(safe).join(path.sep);
    if (this.inUse.has(key)) {
      const transient = path.join(this.root, '.transient', randomUUID());
      return {
        caches: paths.map((p) => ({ path: p, dir: path.join(transient, hash(p)) })),
        release: () => rm(transient, { recursive: true, force: true }),
      };
    }
    this.inUse.add(key);
    return {
      caches: paths.map((p) => ({ path: p, dir: path.join(this.root, key, hash(p)) })),
      release: () => {
        this.inUse.delete(key);
        return Promise.resolve();
      },
    };
  }
}

/** A name as one safe path segment (names are identifiers already; this guards against the odd one). */
function safe(name: string): string {
  return encodeURIComponent(name).replace(/^\.+/, '_');
}

function hash(cachePath: string): string {
  return createHash('sha256').update(cachePath).digest('hex').slice(0, 16);
}
