// `outpost containers` (fly containers): the team's steps that `intercept --handle` can enter, in fly's
// columns; `--json` in Concourse's field names, so scripts written for fly's JSON read it.

import type { Command } from 'commander';
import type { ContainerSummary } from '../../hub/api/types.js';
import { formatPipelineRef } from '../../hub/pipeline/instance-vars.js';
import type { CliContext } from '../context.js';

const HEADER = ['handle', 'worker', 'pipeline', 'job', 'build #', 'build id', 'type', 'name', 'attempt'];

/** A row as fly prints it: an empty cell is `none` (`n/a` for the attempt), so every column has a word. */
function containerRow(c: ContainerSummary): string[] {
  const pipeline = c.pipeline
    ? formatPipelineRef({
        name: c.pipeline,
        ...(c.pipeline_instance_vars ? { instanceVars: c.pipeline_instance_vars } : {}),
      })
    : '';
  const or = (s: string, fallback = 'none') => (s === '' ? fallback : s);
  return [
    c.handle,
    c.agent,
    or(pipeline),
    or(c.job),
    or(c.job === '' ? '' : c.buildName),
    String(c.buildId),
    c.type,
    c.name,
    or(c.attempt, 'n/a'),
  ];
}

/** Concourse's atc.Container fields (and `state`: running, or failed or succeeded and kept for intercept). */
function concourseContainerJson(c: ContainerSummary): Record<string, unknown> {
  const checked = c.type === 'check';
  return {
    id: c.handle,
    worker_name: c.agent,
    type: c.type,
    state: c.state,
    ...(checked ? { resource_name: c.name } : { step_name: c.name }),
    ...(c.attempt === '' ? {} : { attempt: c.attempt }),
    build_id: c.buildId,
    ...(c.job === '' ? {} : { build_name: c.buildName, job_name: c.job }),
    ...(c.pipeline === '' ? {} : { pipeline_name: c.pipeline }),
    ...(c.pipeline_instance_vars ? { pipeline_instance_vars: c.pipeline_instance_vars } : {}),
  };
}

export function registerContainers(program: Command, ctx: CliContext): void {
  program
    .command('containers')
    .description(
      "List the team's steps that can be intercepted: running ones, recently failed ones, and succeeded ones of builds still running",
    )
    .option('--team <team>', "this team's, instead of the target's")
    .option('--json', "print them as JSON, in Concourse's field names")
    .addHelpText(
      'after',
      `
A handle is what "outpost intercept --handle" takes. A failed step is listed for 5 minutes after it
ended; its agent keeps it for its pool's keep_failed_steps_for (default 5m). A succeeded step is listed
while its build runs, and as long as a failed one if the build does not succeed.
Example:
  outpost containers
  outpost intercept --handle 1234 hostname`,
    )
    .action(async (opts: { team?: string; json?: boolean }, cmd: Command) => {
      const containers = await (await ctx.client(cmd)).listContainers(opts.team);
      if (opts.json === true) {
        ctx.out(JSON.stringify(containers.map(concourseContainerJson), null, 2) + '\n');
        return;
      }
      // fly sorts by the first column, the handle, as text.
      const rows = containers.map(containerRow).sort((a, b) => (a[0] ?? '').localeCompare(b[0] ?? ''));
      ctx.out(ctx.table(HEADER, rows));
    });
}
