// pause-pipeline / unpause-pipeline (one, or all of the team's with --all) and pause-job / unpause-job.
// A paused pipeline checks nothing and starts no build; a paused job starts no build. New pipelines
// start paused; archived pipelines stay paused until set again.

import type { Command } from 'commander';
import { ApiRequestError, pipelineRefOf } from '../api-client.js';
import { parseJobRef, type CliContext } from '../context.js';
import { CliError } from '../io.js';

/** fly's -p / -a pair: exactly one of them. */
export function pipelineOrAll(opts: { pipeline?: string; all?: boolean }): string | undefined {
  if (opts.pipeline === undefined && opts.all !== true)
    throw new CliError("one of the flags '-p, --pipeline' or '-a, --all' is required");
  if (opts.pipeline !== undefined && opts.all === true)
    throw new CliError("only one of the flags '-p, --pipeline' or '-a, --all' is allowed");
  return opts.pipeline;
}

export function registerPauseCommands(program: Command, ctx: CliContext): void {
  for (const paused of [true, false]) {
    const verb = paused ? 'pause' : 'unpause';
    program
      .command(`${verb}-pipeline`)
      .description(
        paused ? 'Stop checking resources and starting builds of a pipeline' : 'Resume a paused pipeline',
      )
      .option('-p, --pipeline <name>', 'the pipeline')
      .option(
        '-a, --all',
        `${verb} every pipeline of the team${paused ? '' : ' (archived ones stay paused)'}`,
      )
      .action(async (opts: { pipeline?: string; all?: boolean }, cmd: Command) => {
        const one = pipelineOrAll(opts);
        const client = await ctx.client(cmd);
        const names =
          one !== undefined
            ? [one]
            : (await client.listPipelines()).filter((p) => paused || !p.archived).map(pipelineRefOf);
        for (const name of names) {
          try {
            await client.setPipelinePaused(name, paused);
          } catch (err) {
            if (err instanceof ApiRequestError && err.status === 404)
              throw new CliError(`pipeline '${name}' not found`, 1, { cause: err });
            throw err;
          }
          ctx.out(`${verb}d '${name}'\n`);
        }
      });
    program
      .command(`${verb}-job`)
      .description(paused ? 'Stop starting builds of a job' : 'Resume a paused job')
      .requiredOption('-j, --job <pipeline/job>', 'the job')
      .action(async (opts: { job: string }, cmd: Command) => {
        const ref = parseJobRef(opts.job);
        await (await ctx.client(cmd)).setJobPaused(ref.pipeline, ref.job, paused);
        ctx.out(`${verb}d '${ref.job}'\n`);
      });
  }
}
