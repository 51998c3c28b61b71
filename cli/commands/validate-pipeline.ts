// `outpost validate-pipeline`: checks a pipeline file offline, with the same parser the hub uses.

import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { parsePipeline } from '../../hub/pipeline/parse.js';
import { collectVars } from '../../hub/pipeline/var-flags.js';
import type { CliContext } from '../context.js';
import { CliError } from '../io.js';
import { formatDiagnostic } from './set-pipeline.js';

interface ValidateOptions {
  config: string;
  strict?: boolean;
  var: string[];
  yamlVar: string[];
  loadVarsFrom: string[];
}

/** Reads a file the user named, as a CliError when it cannot be read. */
export async function readUserFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new CliError(`could not read ${path}: ${(err as Error).message}`, 1, { cause: err });
  }
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function registerValidatePipeline(program: Command, ctx: CliContext): void {
  program
    .command('validate-pipeline')
    .description('Check a pipeline file without a hub: prints every problem as FILE:LINE:COL: MESSAGE')
    .requiredOption('-c, --config <file>', 'pipeline configuration file (YAML)')
    .option('--strict', 'treat warnings as errors')
    .option('-v, --var <name=value>', 'a string var (repeatable)', collect, [])
    .option('-y, --yaml-var <name=yaml>', 'a var whose value is YAML (repeatable)', collect, [])
    .option('-l, --load-vars-from <file>', 'a YAML file of vars (repeatable)', collect, [])
    .addHelpText(
      'after',
      `
Vars not given stay in the config as written; they are resolved when the build runs.
Exit status: 0 when the pipeline is valid ("looks good"), 1 otherwise.

Example:
  outpost validate-pipeline -c ci/pipeline.yml -v branch=main -l ci/vars.yml`,
    )
    .action(async (opts: ValidateOptions) => {
      const source = await readUserFile(opts.config);
      const files = await Promise.all(
        opts.loadVarsFrom.map(async (name) => ({ name, text: await readUserFile(name) })),
      );
      const vars = collectVars({ files, yaml: opts.yamlVar, strings: opts.var });
      if (!vars.ok) throw new CliError(vars.error);
      const { diagnostics } = parsePipeline(source, opts.config, { vars: vars.vars });
      for (const d of diagnostics) ctx.err(formatDiagnostic(d) + '\n');
      const failing = diagnostics.filter((d) => d.severity === 'error' || opts.strict === true);
      if (failing.length > 0) {
        ctx.exitCode = 1;
        return;
      }
      ctx.out('looks good\n');
    });
}
