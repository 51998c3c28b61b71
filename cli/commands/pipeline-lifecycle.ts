// archive-pipeline, order-pipelines, order-instanced-pipelines and paused-pipelines, with fly's flags, prompts and output.

import type { Command } from 'commander';
import type { PipelineSummary } from '../../hub/api/types.js';
import {
  formatInstanceVars,
  InstanceVarsError,
  parseInstanceVars,
} from '../../hub/pipeline/instance-vars.js';
import { ApiRequestError, pipelineRefOf } from '../api-client.js';
import type { CliContext } from '../context.js';
import { CliError } from '../io.js';
import { formatDateTime } from '../render/time.js';
import { pipelineOrAll } from './pause.js';

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerPipelineLifecycleCommands(program: Command, ctx: CliContext): void {
  program
    .command('archive-pipeline')
    .description('Archive a pipeline: it is paused and listed only with --include-archived until set again')
    .option('-p, --pipeline <name>', 'the pipeline')
    .option('-a, --all', "archive every one of the team's pipelines")
    .option('-n, --non-interactive', 'archive without asking')
    .action(async (opts: { pipeline?: string; all?: boolean; nonInteractive?: boolean }, cmd: Command) => {
      const one = pipelineOrAll(opts);
      const client = await ctx.client(cmd);
      const names =
        one !== undefined
          ? [one]
          : (await client.listPipelines()).filter((p) => !p.archived).map(pipelineRefOf);
      if (names.length === 0) return ctx.out('there are no unarchived pipelines\nbailing out\n');
      if (opts.nonInteractive !== true) {
        // Unlike Concourse, Outpost keeps the config of an archived pipeline (get-pipeline still shows it).
        ctx.out(
          '!!! archiving the pipeline pauses it for good until it is set again. Build history will be retained.\n\n',
        );
        const question =
          names.length === 1 ? `archive pipeline '${names[0] ?? ''}'?` : `archive ${names.length} pipelines?`;
        if (!(await ctx.confirm(`${question} [yN]: `, 'y'))) return ctx.out('bailing out\n');
      }
      for (const name of names) {
        try {
          await client.archivePipeline(name);
        } catch (err) {
          if (err instanceof ApiRequestError && err.status === 404)
            throw new CliError(`pipeline '${name}' not found`, 1, { cause: err });
          throw err;
        }
        ctx.out(`archived '${name}'\n`);
      }
    });

  program
    .command('order-pipelines')
    .description("Put the team's pipelines in an order (the named ones first, the others after them)")
    .option('-p, --pipeline <name>', 'a pipeline, in the order wanted (repeatable)', collect, [])
    .option('-a, --alphabetical', 'order all pipelines alphabetically')
    .action(async (opts: { pipeline: string[]; alphabetical?: boolean }, cmd: Command) => {
      if (opts.alphabetical !== true && opts.pipeline.length === 0)
        throw new CliError('either --pipeline or --alphabetical is required');
      for (const p of opts.pipeline)
        if (p.includes('/')) throw new CliError(`pipeline name "${p}" cannot contain '/'`);
      const client = await ctx.client(cmd);
      const names =
        opts.alphabetical === true
          ? [...new Set((await client.listPipelines()).map((p) => p.name))].sort()
          : opts.pipeline;
      try {
        await client.orderPipelines(names);
      } catch (err) {
        if (err instanceof ApiRequestError)
          throw new CliError(`failed to order pipelines: ${err.message}`, 1, { cause: err });
        throw err;
      }
      ctx.out(`ordered pipelines\n${names.map((n) => `  - ${n}\n`).join('')}`);
    });

  program
    .command('order-instanced-pipelines')
    .description(
      'Put the instances of an instance group in an order (the named ones first, the others after them)',
    )
    .requiredOption('-g, --group <name>', 'the instance group')
    .option(
      '-p, --pipeline <key:value,...>',
      "an instance's instance vars, in the order wanted (repeatable)",
      collect,
      [],
    )
    .action(async (opts: { group: string; pipeline: string[] }, cmd: Command) => {
      if (opts.pipeline.length === 0) throw new CliError('at least one --pipeline is required');
      const instances = opts.pipeline.map((text) => {
        try {
          return parseInstanceVars(text);
        } catch (err) {
          if (err instanceof InstanceVarsError)
            throw new CliError(`invalid --pipeline '${text}': ${err.message}`, 1, { cause: err });
          throw err;
        }
      });
      const client = await ctx.client(cmd);
      try {
        await client.orderInstancedPipelines(opts.group, instances);
      } catch (err) {
        if (err instanceof ApiRequestError)
          throw new CliError(`failed to order instanced pipelines: ${err.message}`, 1, { cause: err });
        throw err;
      }
      ctx.out(
        `ordered instanced pipelines\n${instances.map((v) => `  - ${formatInstanceVars(v)}\n`).join('')}`,
      );
    });

  program
    .command('paused-pipelines')
    .description("List the team's paused pipelines")
    .option('-a, --all', 'the paused pipelines of every team you may see')
    .option('--json', 'print the pipelines as JSON')
    .action(async (opts: { all?: boolean; json?: boolean }, cmd: Command) => {
      const client = await ctx.client(cmd);
      const listed: PipelineSummary[] =
        opts.all === true ? await client.listAllPipelines() : await client.listPipelines();
      const paused = listed.filter((p) => p.paused && !p.archived);
      if (opts.json === true) return ctx.out(JSON.stringify(paused, null, 2) + '\n');
      const team = opts.all === true;
      ctx.out(
        ctx.table(
          ['id', 'name', ...(team ? ['team'] : []), 'paused', 'last updated'],
          paused.map((p) => [
            String(p.id),
            pipelineRefOf(p),
            ...(team ? [p.team] : []),
            'yes',
            formatDateTime(p.updatedAt),
          ]),
        ),
      );
    });
}
