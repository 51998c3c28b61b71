import type { Command } from 'commander';
import type { BuildEventEnvelope, BuildSummary } from '../../hub/api/types.js';
import { ApiRequestError, type ApiClient } from '../api-client.js';
import { parseJobRef, parsePositiveInt, type CliContext } from '../context.js';
import { CliError, sleep } from '../io.js';
import { BuildEventRenderer, isTerminal } from '../render/events.js';
import { parseDuration } from '../render/time.js';

interface WatchOptions {
  job?: string;
  build?: string;
  timestamps?: boolean;
  timeout: string;
}

/** How often `watch -j P/J -b NAME` asks whether the named build exists yet. */
const POLL_INTERVAL_MS = 1000;

function isEnvelope(v: unknown): v is BuildEventEnvelope {
  return typeof v === 'object' && v !== null && typeof (v as { event?: unknown }).event === 'string';
}

/**
 * Streams a build's events to stdout until the stream's `end`, and returns fly's exit code for it.
 * Shared by `watch` and `trigger-job -w`.
 */
export async function streamBuild(
  ctx: CliContext,
  client: ApiClient,
  buildId: number,
  opts: { timestamps: boolean; signal?: AbortSignal },
): Promise<number> {
  const renderer = new BuildEventRenderer((s) => ctx.out(s), {
    style: ctx.style,
    timestamps: opts.timestamps,
  });
  for await (const ev of client.buildEvents(buildId, opts.signal)) {
    if (ev.event === 'end') break;
    if (ev.event !== 'event') continue;
    let envelope: unknown;
    try {
      envelope = JSON.parse(ev.data);
    } catch {
      envelope = undefined;
    }
    if (!isEnvelope(envelope)) {
      ctx.err(`warning: ignoring a malformed build event (id ${ev.id || 'none'})\n`);
      continue;
    }
    renderer.handle(envelope);
  }
  if (renderer.status === undefined) {
    // The stream ended without a final status event: ask for the build's status instead.
    const build = await client.getBuild(buildId);
    if (!isTerminal(build.status)) {
      renderer.finish();
      throw new CliError(
        `the event stream of build ${buildId} ended while the build is still ${build.status}`,
      );
    }
    renderer.handle({ event: 'status', version: '', data: { status: build.status, time: build.endedAt } });
  }
  renderer.finish();
  return renderer.exitCode(renderer.status ?? 'errored');
}

/** A job's build by name, polling once a second while it does not exist (404) until the timeout. */
export async function waitForJobBuild(
  ctx: CliContext,
  client: ApiClient,
  ref: { pipeline: string; job: string },
  name: string,
  timeoutMs: number,
  timeoutText: string,
): Promise<BuildSummary> {
  const deadline = ctx.now() + timeoutMs;
  for (;;) {
    try {
      return await client.getJobBuild(ref.pipeline, ref.job, name);
    } catch (err) {
      if (!(err instanceof ApiRequestError && err.status === 404)) throw err;
      if (ctx.now() + POLL_INTERVAL_MS > deadline) {
        throw new CliError(
          `build ${ref.pipeline}/${ref.job} #${name} did not appear within ${timeoutText} (${err.message})`,
        );
      }
    }
    await sleep(POLL_INTERVAL_MS);
  }
}

async function latestJobBuild(
  client: ApiClient,
  ref: { pipeline: string; job: string },
): Promise<BuildSummary> {
  const jobs = await client.listJobs(ref.pipeline);
  const job = jobs.find((j) => j.name === ref.job);
  if (!job) throw new CliError(`job '${ref.job}' not found in pipeline '${ref.pipeline}'`);
  if (!job.latestBuild) throw new CliError(`job has no builds: ${ref.pipeline}/${ref.job}`);
  return job.latestBuild;
}

export function registerWatch(program: Command, ctx: CliContext): void {
  program
    .command('watch')
    .description("Stream a build's output until it finishes; exits with the build's result like fly")
    .option('-j, --job <pipeline/job>', 'watch a build of this job (default: its latest build)')
    .option(
      '-b, --build <build>',
      'with -j: the build name (e.g. 3 or 3.1), waited for if it does not exist yet; without -j: the build id',
    )
    .option('--timestamps', 'prefix each line with the time (HH:MM:SS) of its event')
    .option('--timeout <duration>', 'how long to wait for a named build to appear', '5m')
    .addHelpText(
      'after',
      `
-t is the global --target option, so timestamps have only the long form --timestamps.

Exit status: the last finished task's non-zero exit status if any; else succeeded 0, failed 1,
errored 2, aborted 3.

Examples:
  outpost watch -j my-app/unit            # the latest build of the job
  outpost watch -j my-app/unit -b 12 --timestamps
  outpost watch -b 1234                   # by build id`,
    )
    .action(async (opts: WatchOptions, cmd: Command) => {
      const timeoutMs = parseDuration(opts.timeout);
      if (timeoutMs === undefined)
        throw new CliError(`invalid --timeout '${opts.timeout}': expected e.g. 30s, 5m, 1h`);
      let buildId: number;
      const client = await ctx.client(cmd);
      if (opts.job !== undefined) {
        const ref = parseJobRef(opts.job);
        const build =
          opts.build !== undefined
            ? await waitForJobBuild(ctx, client, ref, opts.build, timeoutMs, opts.timeout)
            : await latestJobBuild(client, ref);
        buildId = build.id;
      } else if (opts.build !== undefined) {
        buildId = parsePositiveInt(opts.build, 'build id');
      } else {
        throw new CliError('specify -j PIPELINE/JOB (optionally with -b NAME), or -b BUILD_ID');
      }
      ctx.exitCode = await streamBuild(ctx, client, buildId, { timestamps: opts.timestamps === true });
    });
}
