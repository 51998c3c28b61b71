// A pipeline's jobs as fly lists them (`jobs`: name, paused, the last finished build's status and the
// next build's), and schedule-job, which asks the scheduler to look at a job now.

import type { Command } from 'commander';
import type { BuildSummary, JobSummary } from '../../hub/api/types.js';
import { ApiRequestError, type ApiClient } from '../api-client.js';
import { parseJobRef, type CliContext } from '../context.js';
import { CliError } from '../io.js';
import { isTerminal } from '../render/events.js';

/** How many recent builds are read to find a job's last finished one behind running ones. */
const RECENT_BUILDS = 20;

/** The job's last finished build and its next (pending or running) one. */
async function finishedAndNext(
  client: ApiClient,
  job: JobSummary,
): Promise<{ finished: BuildSummary | undefined; next: BuildSummary | undefined }> {
  const latest = job.latestBuild;
  if (latest === null) return { finished: undefined, next: undefined };
  if (isTerminal(latest.status)) return { finished: latest, next: undefined };
  const recent = await client.listJobBuilds(job.pipeline, job.name, RECENT_BUILDS);
  const finished = recent.find((b) => isTerminal(b.status));
  // The next build is the oldest one not finished (the one that runs or starts first).
  const next = recent.filter((b) => !isTerminal(b.status)).at(-1);
  return { finished, next };
}

export function registerJobCommands(program: Command, ctx: CliContext): void {
  program
    .command('jobs')
    .description("List a pipeline's jobs with the status of their last and next build")
    .requiredOption('-p, --pipeline <name>', 'the pipeline')
    .option('--json', 'print the jobs as JSON')
    .action(async (opts: { pipeline: string; json?: boolean }, cmd: Command) => {
      const client = await ctx.client(cmd);
      let jobs: JobSummary[];
      try {
        jobs = await client.listJobs(opts.pipeline);
      } catch (err) {
        if (err instanceof ApiRequestError && err.status === 404)
          throw new CliError(`pipeline '${opts.pipeline}' not found`, 1, { cause: err });
        throw err;
      }
      if (opts.json === true) return ctx.out(JSON.stringify(jobs, null, 2) + '\n');
      const rows: string[][] = [];
      for (const job of jobs) {
        const { finished, next } = await finishedAndNext(client, job);
        rows.push([job.name, job.paused ? 'yes' : 'no', finished?.status ?? 'n/a', next?.status ?? 'n/a']);
      }
      ctx.out(ctx.table(['name', 'paused', 'status', 'next'], rows));
    });

  program
    .command('schedule-job')
    .description('Ask the scheduler to look at a job now (a recovery command, as in fly)')
    .requiredOption('-j, --job <pipeline/job>', 'the job')
    .action(async (opts: { job: string }, cmd: Command) => {
      const ref = parseJobRef(opts.job);
      try {
        await (await ctx.client(cmd)).scheduleJob(ref.pipeline, ref.job);
      } catch (err) {
        if (err instanceof ApiRequestError && err.status === 404)
          throw new CliError(`${ref.pipeline}/${ref.job} not found`, 1, { cause: err });
        throw err;
      }
      ctx.out(`scheduled '${ref.job}'\n`);
    });
}
