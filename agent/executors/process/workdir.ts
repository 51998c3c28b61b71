// The on-disk layout of one process step: `<workRoot>/<leaseId>/work/` is the working directory with
// the inputs and outputs, `<workRoot>/<leaseId>/tmp/` its private TMPDIR (beside it, so an output at
// "." never packs the temp files); every step-supplied path is checked to stay inside the work dir.
import { mkdir, stat } from 'node:fs/promises';
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
export async function createWorkDir(workRoot: string, leaseId: string): Promise<string> {
  return (await createStepDirs(workRoot, leaseId)).work;
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
