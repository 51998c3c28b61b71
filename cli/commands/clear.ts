// Forgetting kept state, with fly's prompts and output: clear-task-cache (a task step's caches),
// clear-resource-cache (a resource's cached fetches) and clear-versions (a resource's or resource
// type's version history).

import type { Command } from 'commander';
import { ApiRequestError } from '../api-client.js';
import { parseJobRef, type CliContext } from '../context.js';
import { CliError } from '../io.js';
import { parseResourceRef, parseVersion } from './resources.js';

/** A 404 of the hub, said as fly says it. */
async function orNotFound<T>(call: Promise<T>, message: string): Promise<T> {
  try {
    return await call;
  } catch (err) {
    if (err instanceof ApiRequestError && err.status === 404) throw new CliError(message, 1, { cause: err });
    throw err;
  }
}

export function registerClearCommands(program: Command, ctx: CliContext): void {
  program
    .command('clear-task-cache')
    .description("Clear a task step's caches: its next build starts with them empty")
    .requiredOption('-j, --job <pipeline/job>', 'the job')
    .requiredOption('-s, --step <name>', 'the task step')
    .option('-c, --cache-path <path>', "one cache path (Outpost clears all of the step's caches with it)")
    .option('-n, --non-interactive', 'clear without asking')
    .action(
      async (
        opts: { job: string; step: string; cachePath?: string; nonInteractive?: boolean },
        cmd: Command,
      ) => {
        const ref = parseJobRef(opts.job);
        const at = opts.cachePath === undefined ? '' : `, at \`${opts.cachePath}\``;
        ctx.out(
          `!!! this will remove the task cache(s) for \`${ref.pipeline}/${ref.job}\`, task step \`${opts.step}\`${at}\n\n`,
        );
        if (opts.nonInteractive !== true && !(await ctx.confirm('are you sure? [yN]: ', 'y')))
          return ctx.out('bailing out\n');
        const client = await ctx.client(cmd);
        const { removed } = await orNotFound(
          client.clearTaskCache(ref.pipeline, ref.job, opts.step, opts.cachePath),
          `job '${ref.pipeline}/${ref.job}' has no task step '${opts.step}'`,
        );
        ctx.out(`${removed} caches removed\n`);
      },
    );

  program
    .command('clear-resource-cache')
    .description("Clear a resource's cached fetches: the next get fetches again")
    .requiredOption('-r, --resource <pipeline/resource>', 'the resource')
    .option(
      '-v, --version <key:value>',
      'only the caches of this version (repeatable)',
      (v: string, p: string[]) => [...p, v],
      [],
    )
    .option('-n, --non-interactive', 'clear without asking')
    .action(async (opts: { resource: string; version: string[]; nonInteractive?: boolean }, cmd: Command) => {
      const ref = parseResourceRef(opts.resource);
      const version = opts.version.length > 0 ? parseVersion(opts.version) : undefined;
      const which = version === undefined ? '' : ` with version: \`${JSON.stringify(version)}\``;
      ctx.out(
        `!!! this will remove the resource cache(s) for \`${ref.pipeline}/${ref.resource}\`${which}\n\n`,
      );
      if (opts.nonInteractive !== true && !(await ctx.confirm('are you sure? [yN]: ', 'y')))
        return ctx.out('bailing out\n');
      const client = await ctx.client(cmd);
      const { removed } = await orNotFound(
        client.clearResourceCache(ref.pipeline, ref.resource, version),
        `resource '${ref.resource}' is not found`,
      );
      ctx.out(`${removed} caches removed\n`);
    });

  program
    .command('clear-versions')
    .description('Clear the version history of a resource or resource type: the next check starts over')
    .option('--resource <pipeline/resource>', 'the resource')
    .option('--resource-type <pipeline/type>', 'the resource type')
    .option('-n, --non-interactive', 'clear without asking')
    .action(
      async (opts: { resource?: string; resourceType?: string; nonInteractive?: boolean }, cmd: Command) => {
        if ((opts.resource === undefined) === (opts.resourceType === undefined))
          throw new CliError("give one of '--resource' or '--resource-type'");
        const scope = opts.resource !== undefined ? 'resource' : 'type';
        const ref = parseResourceRef(opts.resource ?? opts.resourceType ?? '');
        const client = await ctx.client(cmd);
        const what = scope === 'resource' ? 'resources' : 'resource types';
        ctx.out(
          `!!! this will clear the version histories for the following ${what}:\n- ${client.team}/${ref.pipeline}/${ref.resource}\n\n`,
        );
        if (opts.nonInteractive !== true && !(await ctx.confirm('are you sure? [yN]: ', 'y')))
          return ctx.out('bailing out\n');
        const { removed } = await orNotFound(
          client.clearVersions(ref.pipeline, scope, ref.resource),
          `${scope === 'resource' ? 'resource' : 'resource type'} '${ref.resource}' is not found`,
        );
        ctx.out(`${removed} versions removed\n`);
      },
    );
}
