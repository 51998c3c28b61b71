// `builds`: the most recent builds of the target's team (or of other teams, a pipeline or a job), as
// fly lists them, with fly's filters: --team, --all-teams, --since/--until and --count.

import { formatPipelineRef } from '../../hub/pipeline/instance-vars.js';
import type { Command } from 'commander';
import type { BuildSummary } from '../../hub/api/types.js';
import type { BuildsFilter } from '../api-client.js';
import { parseJobRef, parsePositiveInt, type CliContext } from '../context.js';
import { CliError } from '../io.js';
import { formatDateTime, formatDuration, parseLocalDateTime, toMillis } from '../render/time.js';

interface BuildsOptions {
  job?: string;
  pipeline?: string;
  count: string;
  json?: boolean;
  team: string[];
  allTeams?: boolean;
  currentTeam?: boolean;
  since?: string;
  until?: string;
}

const TIME_FORMAT = 'yyyy-mm-dd HH:mm:ss (local time), e.g. 2024-05-01 14:30:00';

export function buildRow(b: BuildSummary, nowMs: number): string[] {
  const start = b.startedAt === null ? undefined : toMillis(b.startedAt);
  const end = b.endedAt === null ? undefined : toMillis(b.endedAt);
  let duration = 'n/a';
  if (start !== undefined)
    duration = end !== undefined ? formatDuration(end - start) : `${formatDuration(nowMs - start)}+`;
  return [
    String(b.id),
    b.pipeline
      ? `${formatPipelineRef({ name: b.pipeline, ...(b.pipeline_instance_vars ? { instanceVars: b.pipeline_instance_vars } : {}) })}/${b.job}`
      : 'one-off',
    b.name,
    // A pending build says what it waits for (the scheduler's reason, or the worker it needs).
    b.waitingReason ? `${b.status}: ${b.waitingReason}` : b.status,
    start === undefined ? 'n/a' : formatDateTime(start),
    end === undefined ? 'n/a' : formatDateTime(end),
    duration,
  ];
}

function timeOption(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseLocalDateTime(text);
  if (ms === undefined) throw new CliError(`invalid ${flag} '${text}': expected ${TIME_FORMAT}`);
  return ms;
}

/** The filter of one listing call, and which teams to list (undefined: the target's; null: all). */
function filterOf(opts: BuildsOptions): { filter: BuildsFilter; teams: (string | null | undefined)[] } {
  const limit = parsePositiveInt(opts.count, '--count');
  const filter: BuildsFilter = { limit };
  const since = timeOption(opts.since, '--since');
  const until = timeOption(opts.until, '--until');
  if (since !== undefined && until !== undefined && since > until)
    throw new CliError('--since is after --until');
  if (since !== undefined) filter.since = since;
  if (until !== undefined) filter.until = until;
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
  if (opts.allTeams === true && (opts.team.length > 0 || opts.currentTeam === true))
    throw new CliError('--all-teams lists every team: give it without --team or --current-team');
  if (opts.allTeams === true) {
    // A pipeline is named within one team.
    if (filter.pipeline !== undefined)
      throw new CliError('--all-teams lists every build: name the team of a pipeline or job with --team');
    return { filter, teams: [null] };
  }
  const teams: (string | undefined)[] = [...(opts.currentTeam === true ? [undefined] : []), ...opts.team];
  return { filter, teams: teams.length > 0 ? teams : [undefined] };
}

/**
 * A build as `--json` prints it: Outpost's fields and Concourse's (`api_url`, `team_name`, `job_name`,
 * `pipeline_name`, `start_time`/`end_time` in Unix seconds), so scripts written for fly's JSON work.
 */
function concourseBuildJson(b: BuildSummary): Record<string, unknown> {
  const seconds = (ms: number | null) => (ms === null ? undefined : Math.floor(ms / 1000));
  return {
    ...b,
    api_url: `/api/v1/builds/${b.id}`,
    team_name: b.team,
    ...(b.oneOff === true ? {} : { job_name: b.job, pipeline_name: b.pipeline }),
    start_time: seconds(b.startedAt),
    end_time: seconds(b.endedAt),
  };
}

export function registerBuilds(program: Command, ctx: CliContext): void {
  program
    .command('builds')
    .description("List the team's most recent builds, newest first")
    .option('-j, --job <pipeline/job>', "only this job's builds")
    .option('-p, --pipeline <name>', "only this pipeline's builds")
    .option('-c, --count <n>', 'how many builds to show', '50')
    .option(
      '-n, --team <team>',
      "this team's builds (repeatable)",
      (v: string, prev: string[]) => [...prev, v],
      [],
    )
    .option('--current-team', "the target's team's builds (with --team: as well)")
    .option('-a, --all-teams', 'builds of every team you may see')
    .option('--since <time>', `only builds started at or after this time: ${TIME_FORMAT}`)
    .option('--until <time>', 'only builds started at or before this time (same format)')
    .option('--json', 'print the builds as JSON, each with its api_url')
    .addHelpText(
      'after',
      `
Examples:
  outpost builds -c 10
  outpost builds -j my-app/unit --json
  outpost builds --all-teams --since '2024-05-01 00:00:00'`,
    )
    .action(async (opts: BuildsOptions, cmd: Command) => {
      const { filter, teams } = filterOf(opts);
      const client = await ctx.client(cmd);
      const limit = filter.limit ?? 50;
      const builds: BuildSummary[] = [];
      for (const team of teams) builds.push(...(await client.listBuilds({ ...filter, team })));
      // Several teams' builds interleave by id; one listing keeps the hub's order (reruns by their name).
      if (teams.length > 1) builds.sort((a, b) => b.id - a.id);
      const shown = builds.slice(0, teams.length > 1 ? builds.length : limit);
      if (opts.json === true) {
        ctx.out(JSON.stringify(shown.map(concourseBuildJson), null, 2) + '\n');
        return;
      }
      const now = ctx.now();
      // As fly, a listing by team names the team (fly always has the column).
      const manyTeams = teams.length > 1 || teams[0] === null || opts.team.length > 0;
      ctx.out(
        ctx.table(
          [
            'id',
            'pipeline/job',
            'build',
            'status',
            'start',
            'end',
            'duration',
            ...(manyTeams ? ['team'] : []),
          ],
          shown.map((b) => [...buildRow(b, now), ...(manyTeams ? [b.team] : [])]),
        ),
      );
    });
}
