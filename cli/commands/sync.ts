// `outpost sync` (fly sync): fly downloads the hub's own fly from /api/v1/cli and replaces itself.
// Outpost's CLI is not a single binary the hub could hand out: it is one of the programs of the outpost
// npm package the hub comes in. So sync compares this CLI's version with the hub's and, when they
// differ, says how to install the hub's; it never rewrites an installed package.

import type { Command } from 'commander';
import { OUTPOST_VERSION } from '../../common/version.js';
import type { CliContext } from '../context.js';
import { CliError } from '../io.js';

export function registerSync(program: Command, ctx: CliContext): void {
  program
    .command('sync')
    .description("Check that this CLI is the hub's version (fly sync); says how to install it when not")
    .option('-f, --force', 'as fly: do not stop at matching versions (Outpost has nothing to download)')
    .addHelpText(
      'after',
      `
The CLI comes with the outpost npm package (with the hub and the agent), not as a download from the hub.
Exit status: 0 when the versions match, 1 when they do not.`,
    )
    .action(async (opts: { force?: boolean }, cmd: Command) => {
      const { version } = await (await ctx.client(cmd)).info();
      const install = `npm install -g outpost@${version}`;
      if (version !== OUTPOST_VERSION)
        throw new CliError(
          `the hub runs outpost ${version}, this CLI is ${OUTPOST_VERSION}; install the hub's: ${install}`,
        );
      ctx.out(
        opts.force === true
          ? `version ${version} already matches; nothing to download: the CLI comes with the outpost npm package (${install})\n`
          : `version ${version} already matches; skipping\n`,
      );
    });
}
