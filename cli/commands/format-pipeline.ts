// `outpost format-pipeline`: prints a pipeline file normalized (indentation, Concourse's key order).

import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { formatPipeline } from '../../hub/pipeline/format.js';
import type { CliContext } from '../context.js';
import { CliError } from '../io.js';
import { readUserFile } from '../vars.js';

interface FormatOptions {
  config: string;
  write?: boolean;
}

export function registerFormatPipeline(program: Command, ctx: CliContext): void {
  program
    .command('format-pipeline')
    .description("Print a pipeline file with 2-space indentation and each object's keys in Concourse's order")
    .requiredOption('-c, --config <file>', 'pipeline configuration file (YAML)')
    .option('-w, --write', 'rewrite the file instead of printing it')
    .addHelpText(
      'after',
      `
Comments stay with the keys they precede. Exit status: 0, or 1 when the file is not valid YAML.

Example:
  outpost format-pipeline -c ci/pipeline.yml -w`,
    )
    .action(async (opts: FormatOptions) => {
      const source = await readUserFile(opts.config);
      let formatted: string;
      try {
        formatted = formatPipeline(source);
      } catch (err) {
        throw new CliError(`${opts.config}: ${(err as Error).message}`, 1, { cause: err });
      }
      if (opts.write !== true) {
        ctx.out(formatted);
        return;
      }
      if (formatted === source) return;
      try {
        await writeFile(opts.config, formatted);
      } catch (err) {
        throw new CliError(`could not write ${opts.config}: ${(err as Error).message}`, 1, { cause: err });
      }
    });
}
