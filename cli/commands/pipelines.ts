// The team's pipelines, as fly lists and manages them: pipelines, get-pipeline, destroy-pipeline (after a
// confirmation) and rename-pipeline. Output and exit codes follow fly's.

import type { Command } from 'commander';
import { parse } from 'yaml';
import { ApiRequestError, pipelineRefOf } from '../api-client.js';
import type { CliContext } from '../context.js';
import { CliError } from '../io.js';
import { formatDateTime } from '../render/time.js';

const yesNo = (b: boolean): string => (b ? 'yes' : 'no');

export function registerPipelineCommands(program: Command, ctx: CliContext): void {
  program
    .command('pipelines')
    .description("List the team's pipelines (archived ones with --include-archived)")
    .option('-a, --all', 'the pipelines of every team you may see')
    .option('--include-archived', 'list archived pipelines too')
    .option('--json', 'print the pipelines as JSON')
    .action(async (opts: { all?: boolean; includeArchived?: boolean; json?: boolean }, cmd: Command) => {
      const client = await ctx.client(cmd);
      const all = opts.all === true ? await client.listAllPipelines() : await client.listPipelines();
      const pipelines = opts.includeArchived === true ? all : all.filter((p) => !p.archived);
      if (opts.json) return ctx.out(JSON.stringify(pipelines, null, 2) + '\n');
      const teamColumn = opts.all === true;
      const archivedColumn = opts.includeArchived === true;
      ctx.out(
        ctx.table(
          [
            'id',
            'name',
            ...(teamColumn ? ['team'] : []),
            'paused',
            'public',
            ...(archivedColumn ? ['archived'] : []),
            'last updated',
          ],
          pipelines.map((p) => [
            String(p.id),
            pipelineRefOf(p),
            ...(teamColumn ? [p.team] : []),
            yesNo(p.paused),
            yesNo(p.public),
            ...(archivedColumn ? [yesNo(p.archived)] : []),
            formatDateTime(p.updatedAt),
          ]),
        ),
      );
    });

  program
    .command('get-pipeline')
    .description("Print a pipeline's config")
    .requiredOption('-p, --pipeline <name>', 'the pipeline')
    .option('--json', 'print the config as JSON')
    .action(async (opts: { pipeline: string; json?: boolean }, cmd: Command) => {
      const config = await (await ctx.client(cmd)).getPipelineConfig(opts.pipeline);
      if (!config) throw new CliError('pipeline not found');
      if (opts.json) return ctx.out(JSON.stringify(parse(config.source), null, 2) + '\n');
      ctx.out(config.source.endsWith('\n') ? config.source : config.source + '\n');
    });

  program
    .command('destroy-pipeline')
    .description('Destroy a pipeline with its builds and resource versions')
    .requiredOption('-p, --pipeline <name>', 'the pipeline')
    .option('-n, --non-interactive', 'destroy without asking')
    .action(async (opts: { pipeline: string; nonInteractive?: boolean }, cmd: Command) => {
      ctx.out(`!!! this will remove all data for pipeline \`${opts.pipeline}\`\n\n`);
      // As fly: answering no is not an error.
      if (!opts.nonInteractive && !(await ctx.confirm('are you sure? [yN]: ', 'y')))
        return ctx.out('bailing out\n');
      try {
        await (await ctx.client(cmd)).destroyPipeline(opts.pipeline);
      } catch (err) {
        if (!(err instanceof ApiRequestError && err.status === 404)) throw err;
        return ctx.out(`\`${opts.pipeline}\` does not exist\n`);
      }
      ctx.out(`\`${opts.pipeline}\` deleted\n`);
    });

  program
    .command('rename-pipeline')
    .description('Rename a pipeline; its builds and resource versions keep it')
    .requiredOption('-o, --old-name <pipeline>', 'the pipeline')
    .requiredOption('-n, --new-name <pipeline>', 'its new name')
    .action(async (opts: { oldName: string; newName: string }, cmd: Command) => {
      try {
        await (await ctx.client(cmd)).renamePipeline(opts.oldName, opts.newName);
      } catch (err) {
        if (err instanceof ApiRequestError && err.status === 404)
          throw new CliError(`pipeline '${opts.oldName}' not found`, 1, { cause: err });
        throw err;
      }
      ctx.out(`pipeline successfully renamed to ${opts.newName}\n`);
    });
}
