// What every executor that runs a step in a local directory shares (the process executor and the
// built-in resource types): a fresh `<workRoot>/<leaseId>/work` per lease, step-supplied paths kept
// inside it, and outputs packed from it.

import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { pack, type PackedArchive } from './archive.js';

/** A step-supplied path that is absolute or escapes the work dir; the step ends 'errored'. */
export class StepPathError extends Error {
  override readonly name = 'StepPathError';
}

// Lease ids come from the hub and name a directory, so they must be a single plain path segment.
const LEASE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Creates `<workRoot>/<leaseId>/work` and returns both. Throws (an agent-side bug, not a step failure)
 * when the lease id is not a plain name or the directory already exists: a lease never reuses files.
 * Synchronous: three mkdirs cost less than three trips through the thread pool, and a step's start
 * then does not wait behind whatever else the event loop has queued.
 */
export function createStepDirs(workRoot: string, leaseId: string): { root: string; work: string } {
  if (!LEASE_ID.test(leaseId) || leaseId.includes('..'))
    throw new Error(`lease id ${JSON.stringify(leaseId)} cannot name a work directory`);
  mkdirSync(workRoot, { recursive: true });
  const root = path.join(path.resolve(workRoot), leaseId);
  try {
    mkdirSync(root, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST')
      throw new Error(`work directory ${root} already exists (lease ${leaseId} started twice?)`, {
        cause: err,
      });
    throw err;
  }
  const work = path.join(root, 'work');
  mkdirSync(work);
  return { root, work };
}

/**
 * Resolves a step-relative path inside `root`. `label` names the path in the error, e.g.
 * `input "src" path "../x"`. With `allowRoot` (the default), "" and "." mean the root itself.
 */
export function resolveInside(root: string, rel: string, label: string, allowRoot = true): string {
  if (rel.includes('\0')) throw new StepPathError(`${label}: contains a NUL byte`);
  if (path.isAbsolute(rel)) throw new StepPathError(`${label}: must be relative to the work dir`);
  const abs = path.resolve(root, rel);
  const fromRoot = path.relative(root, abs);
  // A different drive on Windows yields an absolute relative path.
  if (fromRoot === '..' || fromRoot.startsWith(`..${path.sep}`) || path.isAbsolute(fromRoot))
    throw new StepPathError(`${label}: escapes the work dir`);
  if (fromRoot === '' && !allowRoot)
    throw new StepPathError(`${label}: must name a directory inside the work dir`);
  return abs;
}

/** Packs each output directory of `work` into `dir`, at most `maxBytes` each; all or nothing. */
export async function packOutputs(
  work: string,
  outputs: readonly { name: string; path: string }[],
  dir: string,
  maxBytes: number,
): Promise<{ name: string; archive: PackedArchive }[]> {
  const packed: { name: string; archive: PackedArchive }[] = [];
  for (const output of outputs) {
    const file = path.join(dir, `${randomUUID()}.tar`);
    try {
      const from = resolveInside(
        work,
        output.path,
        `output "${output.name}" path ${JSON.stringify(output.path)}`,
      );
      packed.push({ name: output.name, archive: await pack(from, file, maxBytes) });
    } catch (err) {
      await rm(file, { force: true });
      for (const done of packed) await rm(done.archive.file, { force: true });
      throw new Error(`output "${output.name}": ${(err as Error).message}`, { cause: err });
    }
  }
  return packed;
}
