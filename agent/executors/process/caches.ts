// Task `caches` on a host: the kept directory is moved into the work dir before the step and moved
// back after it. Both live on the agent's disk, so each move is a rename: no copying, and a cache
// dropped by a crash mid-step is only a cache.

import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { ExecStep } from '../executor.js';
import { resolveInside, StepPathError } from '../../artifacts/step-dirs.js';

export interface PlacedCache {
  kept: string;
  inWorkDir: string;
}

/** Moves each cache into the work dir; throws StepPathError for a path that escapes or collides. */
export async function placeCaches(
  workDir: string,
  caches: NonNullable<ExecStep['caches']>,
): Promise<PlacedCache[]> {
  const placed: PlacedCache[] = [];
  for (const cache of caches) {
    const target = resolveInside(workDir, cache.path, `cache path ${JSON.stringify(cache.path)}`, false);
    await mkdir(cache.dir, { recursive: true });
    await mkdir(path.dirname(target), { recursive: true });
    // An empty directory there (an input or output path created for the step) gives way to the cache.
    await rm(target, { recursive: false, force: true }).catch(() => undefined);
    try {
      await rename(cache.dir, target);
    } catch {
      throw new StepPathError(`cache path ${JSON.stringify(cache.path)} collides with an input or output`);
    }
    placed.push({ kept: cache.dir, inWorkDir: target });
  }
  return placed;
}

/** Moves the caches back to where the agent keeps them (best effort: a lost cache is rebuilt). */
export async function keepCaches(placed: PlacedCache[]): Promise<void> {
  for (const cache of placed) {
    await rename(cache.inWorkDir, cache.kept).catch(() => undefined);
  }
}
