// `outpost validate-pipeline`: checks a pipeline file offline, with the same parser the hub uses.

import type { Command } from 'commander';
import { parsePipeline } from '../../hub/pipeline/parse.js';
import type { CliContext } from '../context.js';
import { addVarOptions, readUserFile, readVars, type VarOptions } from '../vars.js';
import { formatDiagnostic } from './set-pipeline.js';

interface ValidateOptions extends VarOptions {
  config: string;
  strict?: boolean;
}

export function registerValidatePipeline(program: Command, ctx: CliContext): void {
  addVarOptions(program.command('validate-pipeline'))
    .description('Check a pipeline file without a hub: prints every problem as FILE:LINE:COL: MESSAGE')
    .requiredOption('-c, --config <file>', 'pipeline configuration file (YAML)')
    .option('--strict', 'treat warnings as errors')
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
      const { diagnostics } = parsePipeline(source, opts.config, { vars: await readVars(opts) });
      for (const d of diagnostics) ctx.err(formatDiagnostic(d) + '\n');
      const failing = diagnostics.filter((d) => d.severity === 'error' || opts.strict === true);
      if (failing.length > 0) {
        ctx.exitCode = 1;
        return;
      }
      ctx.out('looks good\n');
    });
}
