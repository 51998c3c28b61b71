// The on-disk layout of one process step: `<workRoot>/<leaseId>/work/` is the working directory with
// the inputs and outputs, `<workRoot>/<leaseId>/tmp/` its private TMPDIR (beside it, so an output at
// "." never packs the temp files); every step-supplied path is checked to stay inside the work dir.
import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { createStepDirs, resolveInside, StepPathError } from '../../artifacts/step-dirs.js';
import type { ExecStep } from '../executor.js';

export const TMP_DIR_NAME = 'tmp';

export interface StepLayout {
  workDir: string;
  tmpDir: string;
  runDir: string;
  /** Input and output directories, absolute, in the order the step listed them. */
  dirs: string[];
}

/** Creates the step's fresh directory (see step-dirs.ts) and returns its work dir. */
export function createWorkDir(workRoot: string, leaseId: string): string {
  return createStepDirs(workRoot, leaseId).work;
}

/** Everything of one step on disk (the work dir's parent): what cleanup removes. */
export function stepRootOf(workDir: string): string {
  return path.dirname(workDir);
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

/**
 * Creates the input, output and tmp dirs; throws StepPathError when run.dir is not a directory.
 * Synchronous, as createStepDirs is: a few small calls on a step's way to its start.
 */
export function materialize(layout: StepLayout, runDirLabel: string): void {
  for (const dir of layout.dirs) mkdirSync(dir, { recursive: true });
  mkdirSync(layout.tmpDir, { mode: 0o700 });
  // Checked up front: spawn reports a missing cwd as ENOENT, indistinguishable from a missing command.
  const st = statSync(layout.runDir, { throwIfNoEntry: false });
  if (!st?.isDirectory()) {
    throw new StepPathError(`run.dir ${JSON.stringify(runDirLabel)}: no such directory in the work dir`);
  }
}
