// Directories of built-in resource steps: `<workRoot>/<leaseId>/work` holds a put's inputs at their
// paths and a get's destination; nothing a step names may leave it (the rules are step-dirs.ts', shared
// with the process executor).

import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';

/** Removes every step directory under `workRoot` whose lease is not in `keep`. */
export async function sweepStepDirs(workRoot: string, keep: Set<string>): Promise<void> {
  const names = await readdir(workRoot).catch(() => [] as string[]);
  for (const name of names) {
    if (!keep.has(name)) await rm(path.join(workRoot, name), { recursive: true, force: true });
  }
}
