// The on-disk layout of one process step: `<workRoot>/<leaseId>/work/` is the working directory with
// the inputs and outputs, `<workRoot>/<leaseId>/tmp/` its private TMPDIR (beside it, so an output at
// "." never packs the temp files); every step-supplied path is checked to stay inside the work dir.
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ExecStep } from '../executor.js';

export const TMP_DIR_NAME = 'tmp';
const WORK_DIR_NAME = 'work';

export interface StepLayout {
  workDir: string;
  tmpDir: string;
  runDir: string;
  /** Input and output directories, absolute, in the order the step listed them. */
  dirs: string[];
}

/** A step-supplied path that is absolute or escapes the work dir; the step ends 'errored'. */
export class StepPathError extends Error {
  override readonly name = 'StepPathError';
}

// Lease ids come from the hub and name a directory, so they must be a single plain path segment.
const LEASE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Creates the step's fresh directory and returns its work dir. Rejects (an agent-side bug, not a step failure) when the lease id
 * is not a plain name or the directory already exists: a lease must never reuse another's files.
 */
export async function createWorkDir(workRoot: string, leaseId: string): Promise<string> {
  if (!LEASE_ID.test(leaseId) || leaseId.includes('..')) {
    throw new Error(`lease id ${JSON.stringify(leaseId)} cannot name a work directory`);
  }
  await mkdir(workRoot, { recursive: true });
  const stepRoot = path.join(path.resolve(workRoot), leaseId);
  try {
    await mkdir(stepRoot, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new Error(`work directory ${stepRoot} already exists (lease ${leaseId} started twice?)`, {
        cause: err,
      });
    }
    throw err;
  }
  const workDir = path.join(stepRoot, WORK_DIR_NAME);
  await mkdir(workDir);
  return workDir;
}

/** Everything of one step on disk (the work dir's parent): what cleanup removes. */
export function stepRootOf(workDir: string): string {
  return path.dirname(workDir);
}

/**
 * Resolves a step-relative path inside `root`. `label` names the path in the error, e.g.
 * `input "src" path "../x"`. With `allowRoot`, "" and "." mean the root itself.
 */
export function resolveInside(root: string, rel: string, label: string, allowRoot: boolean): string {
  if (rel.includes('\0')) throw new StepPathError(`${label}: contains a NUL byte`);
  if (path.isAbsolute(rel)) throw new StepPathError(`${label}: must be relative to the work dir`);
  const abs = path.resolve(root, rel);
  const fromRoot = path.relative(root, abs);
  // A different drive on Windows yields an absolute relative path.
  if (fromRoot === '..' || fromRoot.startsWith(`..${path.sep}`) || path.isAbsolute(fromRoot)) {
    throw new StepPathError(`${label}: escapes the work dir`);
  }
  if (fromRoot === '' && !allowRoot)
    throw new StepPathError(`${label}: must name a directory inside the work dir`);
  return abs;
}

/** Checks every path of the step; throws StepPathError naming the first bad one. Pure. */
export function planLayout(workDir: string, step: ExecStep): StepLayout {
  const dirs: string[] = [];
  for (const [kind, list] of [
    ['input', step.inputs],
    ['output', step.outputs],
  ] as const) {
    for (const { name, path: rel } of list) {
      // "." is allowed, as in Concourse: the input or output is the working directory itself.
      dirs.push(resolveInside(workDir, rel, `${kind} "${name}" path ${JSON.stringify(rel)}`, true));
    }
  }
  const runDir = resolveInside(workDir, step.run.dir, `run.dir ${JSON.stringify(step.run.dir)}`, true);
  return { workDir, tmpDir: path.join(stepRootOf(workDir), TMP_DIR_NAME), runDir, dirs };
}

/** Creates the input, output and tmp dirs; throws StepPathError when run.dir is not a directory. */
export async function materialize(layout: StepLayout, runDirLabel: string): Promise<void> {
  for (const dir of layout.dirs) await mkdir(dir, { recursive: true });
  await mkdir(layout.tmpDir, { mode: 0o700 });
  // Checked up front: spawn reports a missing cwd as ENOENT, indistinguishable from a missing command.
  const st = await stat(layout.runDir).catch(() => undefined);
  if (!st?.isDirectory()) {
    throw new StepPathError(`run.dir ${JSON.stringify(runDirLabel)}: no such directory in the work dir`);
  }
}
