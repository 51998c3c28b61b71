// pause-pipeline / unpause-pipeline / pause-job / unpause-job. A paused pipeline checks nothing and
// starts no build; a paused job starts no build. New pipelines start paused.

import type { Command } from 'commander';
import { parseJobRef, type CliContext } from '../context.js';

export function registerPauseCommands(program: Command, ctx: CliContext): void {
  for (const paused of [true, false]) {
    const verb = paused ? 'pause' : 'unpause';
    program
      .command(`${verb}-pipeline`)
      .description(
        paused ? 'Stop checking resources and starting builds of a pipeline' : 'Resume a paused pipeline',
      )
      .requiredOption('-p, --pipeline <name>', 'the pipeline')
      .action(async (opts: { pipeline: string }, cmd: Command) => {
        await (await ctx.client(cmd)).setPipelinePaused(opts.pipeline, paused);
        ctx.out(`${verb}d '${opts.pipeline}'\n`);
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
