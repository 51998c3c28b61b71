import type { Command } from 'commander';
import type { PipelineDiagnostic } from '../../hub/api/types.js';
import { ApiRequestError } from '../api-client.js';
import type { CliContext } from '../context.js';
import { CliError, readLine } from '../io.js';
import { renderConfigDiff } from '../render/diff.js';
import { interpolate } from '../../hub/pipeline/interpolate.js';
import { parsePipeline } from '../../hub/pipeline/parse.js';
import {
  formatPipelineRef,
  InstanceVarsError,
  parseInstanceVarFlags,
  type InstanceVars,
} from '../../hub/pipeline/instance-vars.js';
import { stringify as stringifyYaml } from 'yaml';
import { addVarOptions, readUserFile, readVars, type VarOptions } from '../vars.js';

interface SetPipelineOptions extends VarOptions {
  pipeline: string;
  config: string;
  instanceVar: string[];
  nonInteractive?: boolean;
}

export function formatDiagnostic(d: PipelineDiagnostic): string {
  const where = `${d.file}:${d.line}:${d.col}: ${d.message}`;
  return d.severity === 'warning' ? `warning: ${where}` : where;
}

export function registerSetPipeline(program: Command, ctx: CliContext): void {
  addVarOptions(program.command('set-pipeline'))
    .description(
      "Create or update a pipeline from a YAML file: shows the diff against the hub's current config, asks, then saves it",
    )
    .requiredOption('-p, --pipeline <name>', 'pipeline to create or update')
    .requiredOption('-c, --config <file>', 'pipeline configuration file (YAML)')
    .option(
      '-i, --instance-var <name=yaml>',
      'an instance var (repeatable; `a.b=1` nests, `key:value` works too): sets the instance of the group -p with these vars',
      (value: string, previous: string[]) => [...previous, value],
      [],
    )
    .option('-n, --non-interactive', 'apply without asking for confirmation')
    .addHelpText(
      'after',
      `
Vars given with -v/-y/-l are filled in before the config is sent (as fly does); vars not given stay
in the config and are resolved when the build runs. Instance vars (-i) are vars of the config too.
Other commands name the instance as -p NAME/key:value[,key2:value2].
Exit status: 0 when saved or unchanged, 1 when the config is invalid or you answer no.

Example:
  outpost set-pipeline -p my-app -c ci/pipeline.yml
  outpost -t prod set-pipeline -p my-app -c ci/pipeline.yml -n`,
    )
    .action(async (opts: SetPipelineOptions, cmd: Command) => {
      if (opts.pipeline.includes('/')) throw new CliError("pipeline name cannot contain '/'");
      const instanceVars = instanceVarsOf(opts.instanceVar);
      // The instance, as every other command names it (`name/key:value,...`).
      const pipeline = formatPipelineRef({ name: opts.pipeline, ...(instanceVars ? { instanceVars } : {}) });
      const vars = { ...(await readVars(opts)), ...instanceVars };
      const interpolated = interpolate(await readUserFile(opts.config), vars, opts.config);
      if (interpolated.diagnostics.length > 0) {
        for (const d of interpolated.diagnostics) ctx.err(formatDiagnostic(d) + '\n');
        if (interpolated.diagnostics.some((d) => d.severity === 'error')) {
          ctx.exitCode = 1;
          return;
        }
      }
      const source = interpolated.source;
      // The hub's parser, here: an invalid config is reported before any diff, and without a round trip.
      const local = parsePipeline(source, opts.config).diagnostics;
      if (local.some((d) => d.severity === 'error')) {
        for (const d of local) ctx.err(formatDiagnostic(d) + '\n');
        ctx.exitCode = 1;
        return;
      }
      const client = await ctx.client(cmd);
      const current = await client.getPipelineConfig(pipeline);
      const diff = renderConfigDiff(current?.source ?? '', source, ctx.style);
      if (current && diff === undefined) {
        ctx.out('no changes\n');
        return;
      }
      if (diff !== undefined) ctx.out(diff);
      if (instanceVars) ctx.out(`pipeline instance vars:\n${indent(stringifyYaml(instanceVars))}\n`);

      if (opts.nonInteractive !== true) {
        ctx.out('apply configuration? [yN]: ');
        const answer = await readLine(ctx.io.stdin);
        if (answer === undefined) ctx.out('\n');
        if (!/^y(es)?$/i.test(answer?.trim() ?? '')) {
          ctx.err('bailing out\n');
          ctx.exitCode = 1;
          return;
        }
      }

      let res;
      try {
        res = await client.setPipelineConfig(pipeline, {
          source,
          file: opts.config,
          ...(current ? { expectedVersion: current.version } : {}),
        });
      } catch (err) {
        if (err instanceof ApiRequestError && err.code === 'invalid_pipeline' && err.details.length > 0) {
          for (const d of err.details) ctx.err(formatDiagnostic(d) + '\n');
          ctx.exitCode = 1;
          return;
        }
        if (err instanceof ApiRequestError && err.status === 409) {
          throw new CliError(
            `${err.message} (pipeline '${pipeline}' was changed since its config was fetched; run set-pipeline again to review the new diff)`,
          );
        }
        throw err;
      }
      ctx.out(
        res.created
          ? `pipeline created!\nthe pipeline is currently paused. to unpause, run:\n  ${ctx.commandLine(cmd, `unpause-pipeline -p ${shellWord(pipeline)}`)}\n`
          : 'configuration updated\n',
      );
      for (const w of res.warnings) ctx.err(formatDiagnostic({ ...w, severity: 'warning' }) + '\n');
    });
}

/** The -i flags' instance vars; undefined without any. */
function instanceVarsOf(flags: string[]): InstanceVars | undefined {
  if (flags.length === 0) return undefined;
  try {
    return parseInstanceVarFlags(flags);
  } catch (err) {
    if (err instanceof InstanceVarsError) throw new CliError(`invalid instance var: ${err.message}`);
    throw err;
  }
}

const indent = (text: string): string =>
  text
    .trimEnd()
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n') + '\n';

/** A pipeline ref as a shell word: quoted as fly does when it holds a double quote. */
const shellWord = (ref: string): string => (ref.includes('"') ? JSON.stringify(ref) : ref);
