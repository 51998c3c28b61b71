import type { Command } from 'commander';
import type { BuildSummary } from '../../hub/api/types.js';
import { parseJobRef, parsePositiveInt, type CliContext } from '../context.js';
import { CliError } from '../io.js';
import { renderTable } from '../render/table.js';
import { formatDateTime, formatDuration, toMillis } from '../render/time.js';

interface BuildsOptions {
  job?: string;
  pipeline?: string;
  count: string;
  json?: boolean;
}

export function buildRow(b: BuildSummary, nowMs: number): string[] {
  const start = b.startedAt === null ? undefined : toMillis(b.startedAt);
  const end = b.endedAt === null ? undefined : toMillis(b.endedAt);
  let duration = 'n/a';
  if (start !== undefined)
    duration = end !== undefined ? formatDuration(end - start) : `${formatDuration(nowMs - start)}+`;
  return [
    String(b.id),
    b.pipeline ? `${b.pipeline}/${b.job}` : 'one-off',
    b.name,
    // A pending build says what it waits for (the scheduler's reason, or the worker it needs).
    b.waitingReason ? `${b.status}: ${b.waitingReason}` : b.status,
    start === undefined ? 'n/a' : formatDateTime(start),
    end === undefined ? 'n/a' : formatDateTime(end),
    duration,
  ];
}

export function registerBuilds(program: Command, ctx: CliContext): void {
  program
    .command('builds')
    .description("List the team's most recent builds, newest first")
    .option('-j, --job <pipeline/job>', "only this job's builds")
    .option('-p, --pipeline <name>', "only this pipeline's builds")
    .option('-c, --count <n>', 'how many builds to show', '50')
    .option('--json', 'print the raw JSON array')
    .addHelpText(
      'after',
      `
Examples:
  outpost builds -c 10
  outpost builds -j my-app/unit --json`,
    )
    .action(async (opts: BuildsOptions, cmd: Command) => {
      const limit = parsePositiveInt(opts.count, '--count');
      const filter: { pipeline?: string; job?: string; limit: number } = { limit };
      if (opts.job !== undefined) {
        const ref = parseJobRef(opts.job);
        if (opts.pipeline !== undefined && opts.pipeline !== ref.pipeline) {
          throw new CliError('-p and -j name different pipelines');
        }
        filter.pipeline = ref.pipeline;
        filter.job = ref.job;
      } else if (opts.pipeline !== undefined) {
        filter.pipeline = opts.pipeline;
      }
      const client = await ctx.client(cmd);
      const builds = (await client.listBuilds(filter)).slice(0, limit);
      if (opts.json === true) {
        ctx.out(JSON.stringify(builds, null, 2) + '\n');
        return;
      }
      const now = ctx.now();
      ctx.out(
        renderTable(
          ['id', 'pipeline/job', 'build', 'status', 'start', 'end', 'duration'],
          builds.map((b) => buildRow(b, now)),
          ctx.style,
        ),
      );
    });
}
