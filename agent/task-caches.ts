// Where the agent keeps task `caches` between builds: one directory per team, pipeline, job, step and
// cache path (Concourse keeps them per worker, job and step too). Two builds of the same step on this
// agent at once cannot share one directory, so the second gets a throwaway one. clear-task-cache gives
// the step a new generation (StepContext.cacheGeneration): the step's next build gets a fresh directory,
// and the older generations of the step are removed then. All of them together are bounded in size:
// once a step gives its caches back, the least recently used caches no step holds go first (evict.ts).
// Executors keep a cache in its directory as they can: process pools as the files themselves,
// Kubernetes pools as one tar (kubernetes/step-data.ts).

import { createHash, randomUUID } from 'node:crypto';
import { lstat, readdir, rm, stat, utimes } from 'node:fs/promises';
import path from 'node:path';
import { evictLeastRecentlyUsed, type KeptEntry } from './artifacts/evict.js';
import type { StepContext } from './executors/executor.js';

/** A kept cache's directory name: the hash of its path (see hash()). */
const CACHE_DIR = /^[0-9a-f]{16}$/;

export interface AcquiredCaches {
  caches: { path: string; dir: string }[];
  release: () => Promise<void>;
}

export class TaskCaches {
  private readonly inUse = new Set<string>();

  constructor(
    private readonly root: string,
    /** Bound of every kept cache together; default: none. */
    private readonly maxBytes = Infinity,
  ) {}

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
    const caches = paths.map((p) => ({ path: p, dir: path.join(this.root, key, hash(p)) }));
    return {
      caches,
      release: async () => {
        const now = new Date();
        // Used now: the last to go when the bound is reached.
        for (const c of caches) await utimes(c.dir, now, now).catch(() => undefined);
        this.inUse.delete(key);
        await stale;
        await this.evict().catch(() => undefined);
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
  /** Keeps every cache no step holds within the bound, least recently used out first. */
  private async evict(): Promise<void> {
    if (this.maxBytes === Infinity) return;
    await evictLeastRecentlyUsed(await this.keptCaches(this.root, ''), this.maxBytes);
  }

  /** Every kept cache directory under `dir` (key: its step key so far) that no running step holds. */
  private async keptCaches(dir: string, key: string): Promise<KeptEntry[]> {
    const found: KeptEntry[] = [];
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (!entry.isDirectory() || (key === '' && entry.name === '.transient')) continue;
      const at = path.join(dir, entry.name);
      if (!CACHE_DIR.test(entry.name)) {
        found.push(...(await this.keptCaches(at, key ? path.join(key, entry.name) : entry.name)));
      } else if (!this.inUse.has(key)) {
        found.push({ path: at, size: await sizeOf(at), usedAt: (await stat(at)).mtimeMs });
      }
    }
    return found;
  }
}

/** Bytes of the files under `dir` (links counted as themselves). */
async function sizeOf(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => [])) {
    if (!entry.isDirectory()) total += (await lstat(path.join(entry.parentPath, entry.name))).size;
  }
  return total;
}

/** A name as one safe path segment (names are identifiers already; this guards against the odd one). */
function safe(name: string): string {
  return encodeURIComponent(name).replace(/^\.+/, '_');
}

function hash(cachePath: string): string {
  return createHash('sha256').update(cachePath).digest('hex').slice(0, 16);
}
