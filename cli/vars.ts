// The `-v name=value`, `-y name=yaml` and `-l file` options shared by set-pipeline and
// validate-pipeline, and reading the files users name.

import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { collectVars } from '../hub/pipeline/var-flags.js';
import { CliError } from './io.js';

export interface VarOptions {
  var: string[];
  yamlVar: string[];
  loadVarsFrom: string[];
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function addVarOptions(cmd: Command): Command {
  return cmd
    .option('-v, --var <name=value>', 'a string var (repeatable)', collect, [])
    .option('-y, --yaml-var <name=yaml>', 'a var whose value is YAML (repeatable)', collect, [])
    .option('-l, --load-vars-from <file>', 'a YAML file of vars (repeatable)', collect, []);
}

/** Reads a file the user named, as a CliError when it cannot be read. */
export async function readUserFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new CliError(`could not read ${path}: ${(err as Error).message}`, 1, { cause: err });
  }
}

/** The vars the options give: files first, then -y, then -v (later ones win). */
export async function readVars(opts: VarOptions): Promise<Record<string, unknown>> {
  const files = await Promise.all(
    opts.loadVarsFrom.map(async (name) => ({ name, text: await readUserFile(name) })),
  );
  const vars = collectVars({ files, yaml: opts.yamlVar, strings: opts.var });
  if (!vars.ok) throw new CliError(vars.error);
  return vars.vars;
}
