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

/**
 * Moves each cache into the work dir; throws StepPathError for a path that escapes or collides.
 * `mounts`: the step's input and output paths. A cache inside one of them takes the place of what the
 * step's own copy has there, as Concourse mounts a cache volume over it; a cache above one is an error
 * (it would swallow the input or output), and so is one at an input's path.
 */
export async function placeCaches(
  workDir: string,
  caches: NonNullable<ExecStep['caches']>,
  mounts: readonly string[],
): Promise<PlacedCache[]> {
  const placed: PlacedCache[] = [];
  const mountDirs = mounts.map((m) => path.resolve(workDir, m));
  // Parents before the caches nested in them (keepCaches takes them out in the opposite order).
  const ordered = [...caches].sort((a, b) => depth(a.path) - depth(b.path));
  for (const cache of ordered) {
    const label = `cache path ${JSON.stringify(cache.path)}`;
    const target = resolveInside(workDir, cache.path, label, false);
    if (mountDirs.some((m) => isInside(m, target)))
      throw new StepPathError(`${label} collides with an input or output`);
    await mkdir(cache.dir, { recursive: true });
    await mkdir(path.dirname(target), { recursive: true });
    const shadows = mountDirs.some((m) => isInside(target, m));
    // Inside an input or output: the step's copy gives way. Elsewhere only an empty directory does.
    await rm(target, { recursive: shadows, force: true }).catch(() => undefined);
    try {
      await rename(cache.dir, target);
    } catch {
      throw new StepPathError(`${label} collides with an input or output`);
    }
    placed.push({ kept: cache.dir, inWorkDir: target });
  }
  return placed;
}

/** Moves the caches back to where the agent keeps them (best effort: a lost cache is rebuilt). */
export async function keepCaches(placed: PlacedCache[]): Promise<void> {
  // Nested caches first, so that none goes back inside its parent's kept directory.
  for (const cache of [...placed].reverse()) {
    await rename(cache.inWorkDir, cache.kept).catch(() => undefined);
  }
}

function depth(rel: string): number {
  return path
    .normalize(rel)
    .split(path.sep)
    .filter((part) => part !== '' && part !== '.').length;
}

/** Whether `dir` lies strictly inside `parent` (both absolute and resolved). */
function isInside(dir: string, parent: string): boolean {
  const rel = path.relative(parent, dir);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}
