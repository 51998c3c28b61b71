// expose-pipeline / hide-pipeline (fly's names): an exposed pipeline is readable without login — its
// jobs, builds and resources, and the build logs of its jobs marked `public: true`.

import type { Command } from 'commander';
import type { CliContext } from '../context.js';

export function registerExposeCommands(program: Command, ctx: CliContext): void {
  for (const exposed of [true, false]) {
    const verb = exposed ? 'expose' : 'hide';
    program
      .command(`${verb}-pipeline`)
      .description(
        exposed
          ? 'Let anyone, logged in or not, see a pipeline (build logs only of jobs with public: true)'
          : 'Make an exposed pipeline visible to its team only again',
      )
      .requiredOption('-p, --pipeline <name>', 'the pipeline')
      .action(async (opts: { pipeline: string }, cmd: Command) => {
        await (await ctx.client(cmd)).setPipelineExposed(opts.pipeline, exposed);
        ctx.out(`pipeline '${opts.pipeline}' is now ${exposed ? 'exposed' : 'hidden'}\n`);
      });
  }
}
