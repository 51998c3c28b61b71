import type { Command } from 'commander';
import { parseJobRef, type CliContext } from '../context.js';
import { streamBuild } from './watch.js';

interface TriggerJobOptions {
  job: string;
  watch?: boolean;
  timestamps?: boolean;
}

export function registerTriggerJob(program: Command, ctx: CliContext): void {
  program
    .command('trigger-job')
    .description('Start a new build of a job; with -w, stream it and exit with its result')
    .requiredOption('-j, --job <pipeline/job>', 'the job to trigger')
    .option('-w, --watch', 'stream the build output until it finishes (exit status as for watch)')
    .option('--timestamps', 'with -w: prefix each line with the time (HH:MM:SS) of its event')
    .addHelpText(
      'after',
      `
Examples:
  outpost trigger-job -j my-app/unit
  outpost trigger-job -j my-app/unit -w`,
    )
    .action(async (opts: TriggerJobOptions, cmd: Command) => {
      const ref = parseJobRef(opts.job);
      const client = await ctx.client(cmd);
      const build = await client.triggerJob(ref.pipeline, ref.job);
      ctx.out(`started ${ref.pipeline}/${ref.job} #${build.name}\n`);
      if (opts.watch === true) {
        ctx.exitCode = await streamBuild(ctx, client, build.id, { timestamps: opts.timestamps === true });
      }
    });
}
