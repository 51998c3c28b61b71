import type { Command } from 'commander';
import { parseJobRef, parsePositiveInt, type CliContext } from '../context.js';
import { CliError } from '../io.js';

interface AbortBuildOptions {
  job?: string;
  build?: string;
}

export function registerAbortBuild(program: Command, ctx: CliContext): void {
  program
    .command('abort-build')
    .description('Abort a running or pending build')
    .option('-j, --job <pipeline/job>', 'the job of the build')
    .requiredOption('-b, --build <build>', 'with -j: the build name (e.g. 3); without -j: the build id')
    .addHelpText(
      'after',
      `
Examples:
  outpost abort-build -j my-app/unit -b 12
  outpost abort-build -b 1234             # by build id`,
    )
    .action(async (opts: AbortBuildOptions, cmd: Command) => {
      if (opts.build === undefined) throw new CliError('specify the build with -b');
      const client = await ctx.client(cmd);
      let id: number;
      if (opts.job !== undefined) {
        const ref = parseJobRef(opts.job);
        id = (await client.getJobBuild(ref.pipeline, ref.job, opts.build)).id;
      } else {
        id = parsePositiveInt(opts.build, 'build id');
      }
      await client.abortBuild(id);
      ctx.out('build successfully aborted\n');
    });
}
