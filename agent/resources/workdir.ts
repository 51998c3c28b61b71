// Directories of built-in resource steps: `<workRoot>/<leaseId>/work` holds a put's inputs at their
// paths and a get's destination; nothing a step names may leave it. (The process executor keeps its
// own copy of these rules in executors/process/workdir.ts; the two agree on what a path may be.)

import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { pack, type PackedArchive } from '../artifacts/archive.js';

export class StepPathError extends Error {
  override readonly name = 'StepPathError';
}

const LEASE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Creates `<workRoot>/<leaseId>/work`; rejects (an agent bug) on a lease id that is not a plain name or was used before. */
export async function createStepDirs(
  workRoot: string,
  leaseId: string,
): Promise<{ root: string; work: string }> {
  if (!LEASE_ID.test(leaseId) || leaseId.includes('..'))
    throw new Error(`lease id ${JSON.stringify(leaseId)} cannot name a work directory`);
  await mkdir(workRoot, { recursive: true });
  const root = path.join(path.resolve(workRoot), leaseId);
  try {
    await mkdir(root, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST')
      throw new Error(`work directory ${root} already exists (lease ${leaseId} started twice?)`, {
        cause: err,
      });
    throw err;
  }
  const work = path.join(root, 'work');
  await mkdir(work);
  return { root, work };
}

/** `rel` resolved inside `root` ("" and "." are the root itself); throws StepPathError naming `label`. */
export function resolveInside(root: string, rel: string, label: string): string {
  if (rel.includes('\0')) throw new StepPathError(`${label}: contains a NUL byte`);
  if (path.isAbsolute(rel)) throw new StepPathError(`${label}: must be relative to the work dir`);
  const abs = path.resolve(root, rel);
  const fromRoot = path.relative(root, abs);
  if (fromRoot === '..' || fromRoot.startsWith(`..${path.sep}`) || path.isAbsolute(fromRoot))
    throw new StepPathError(`${label}: escapes the work dir`);
  return abs;
}

/** Packs each output directory of `work` into `dir`, as the process executor does. */
export async function packOutputs(
  work: string,
  outputs: { name: string; path: string }[],
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

/** Removes every step directory under `workRoot` whose lease is not in `keep`. */
export async function sweepStepDirs(workRoot: string, keep: Set<string>): Promise<void> {
  const names = await readdir(workRoot).catch(() => [] as string[]);
  for (const name of names) {
    if (!keep.has(name)) await rm(path.join(workRoot, name), { recursive: true, force: true });
  }
}
