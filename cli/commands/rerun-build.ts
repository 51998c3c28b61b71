// rerun-build: a new build of a job with the inputs of an earlier one, named after it (`4.1`, `4.2`;
// a rerun of `4.1` is `4.2`), as fly's. With -w it streams the rerun like trigger-job -w.

import type { Command } from 'commander';
import { parseJobRef, type CliContext } from '../context.js';
import { streamBuild } from './watch.js';

interface RerunOptions {
  job: string;
  build: string;
  watch?: boolean;
  timestamps?: boolean;
}

export function registerRerunBuild(program: Command, ctx: CliContext): void {
  program
    .command('rerun-build')
    .description('Run a build of a job again with the same input versions (named N.1, N.2, ...)')
    .requiredOption('-j, --job <pipeline/job>', 'the job')
    .requiredOption('-b, --build <name>', 'the build to rerun (e.g. 4, or 4.1)')
    .option('-w, --watch', 'stream the rerun until it finishes (exit status as for watch)')
    .option('--timestamps', 'with -w: prefix each line with the time (HH:MM:SS) of its event')
    .addHelpText(
      'after',
      `
Examples:
  outpost rerun-build -j my-app/unit -b 4
  outpost rerun-build -j my-app/unit -b 4.1 -w`,
    )
    .action(async (opts: RerunOptions, cmd: Command) => {
      const ref = parseJobRef(opts.job);
      const client = await ctx.client(cmd);
      const build = await client.rerunBuild(ref.pipeline, ref.job, opts.build);
      ctx.out(`started ${ref.pipeline}/${ref.job} #${build.name}\n`);
      if (opts.watch === true)
        ctx.exitCode = await streamBuild(ctx, client, build.id, { timestamps: opts.timestamps === true });
    });
}
