// `outpost intercept` / `hijack` (fly intercept): runs a command (default: a shell) inside a running
// (or recently failed) step, in its working directory and environment, with this terminal's input and
// output. Its exit status is the command's.

import type { Command } from 'commander';
import type { InterceptClientFrame } from '../../hub/api/types.js';
import { ApiRequestError, type ApiClient } from '../api-client.js';
import { parseJobRef, parsePositiveInt, type CliContext } from '../context.js';
import { CliError } from '../io.js';

interface InterceptOptions {
  handle?: string;
  job?: string;
  build?: string;
  step?: string;
  stepType?: string;
  attempt?: string;
}

export function registerIntercept(program: Command, ctx: CliContext): void {
  program
    .command('intercept')
    .alias('hijack')
    .description("Run a command inside a running or failed step's working directory (default: a shell)")
    .option('--handle <handle>', 'the step a handle from `outpost containers` names')
    .option('-j, --job <pipeline/job>', "the job's build (its latest, or the one -b names)")
    .option('-b, --build <build>', 'with -j: the build name; without -j: the build id')
    .option('-s, --step <name>', 'the step (needed when several run)')
    .option('--step-type <type>', 'the step type: task, get, put or check')
    .option('-a, --attempt <n>', 'the attempt of a step with `attempts`')
    .argument('[command...]', 'the command and its arguments (after --)')
    .addHelpText(
      'after',
      `
With a terminal on stdin the command runs under a pseudo-terminal (not on Windows agents).
A failed step stays for its pool's keep_failed_steps_for (process pools; default 5m).
Examples:
  outpost intercept -j my-app/unit -s run
  outpost intercept --handle 1234 hostname
  outpost intercept -b 42 -- sh -c 'echo $PWD; exit 3'`,
    )
    .action(async (command: string[], opts: InterceptOptions, cmd: Command) => {
      const client = await ctx.client(cmd);
      const into =
        opts.handle !== undefined ? { handle: opts.handle } : { buildId: await buildOf(client, opts) };
      const term = ctx.io.terminal;
      const start: InterceptClientFrame = {
        start: { command, tty: term !== undefined, ...(term ? term.size() : {}) },
      };
      const query = {
        ...(opts.step !== undefined ? { step: opts.step } : {}),
        ...(opts.stepType !== undefined ? { type: opts.stepType } : {}),
        ...(opts.attempt !== undefined ? { attempt: parsePositiveInt(opts.attempt, 'attempt') } : {}),
      };
      term?.setRawMode(true);
      const done = new AbortController();
      try {
        for await (const frame of withFlyErrors(
          client.intercept(into, query, upstream(ctx, start, done.signal), done.signal),
          'handle' in into,
        )) {
          if (frame.stdout !== undefined) ctx.io.stdout.write(Buffer.from(frame.stdout, 'base64'));
          if (frame.stderr !== undefined) ctx.io.stderr.write(Buffer.from(frame.stderr, 'base64'));
          if (frame.error !== undefined) throw new CliError(frame.error);
          if (frame.exit !== undefined) {
            ctx.exitCode = frame.exit;
            return;
          }
        }
        throw new CliError('the hub ended the terminal without an exit status');
      } finally {
        term?.setRawMode(false);
        // The command has ended: nothing more the user types goes anywhere.
        done.abort();
        ctx.io.releaseStdin?.();
      }
    });
}

/**
 * The frames sent up: the start, then stdin as it comes and the terminal's new size whenever it is
 * resized (also after stdin's end: the command may still run), until `done`.
 */
async function* upstream(
  ctx: CliContext,
  start: InterceptClientFrame,
  done: AbortSignal,
): AsyncGenerator<string> {
  yield JSON.stringify(start) + '\n';
  const queue: InterceptClientFrame[] = [];
  let wake: (() => void) | undefined;
  const push = (frame: InterceptClientFrame) => {
    queue.push(frame);
    wake?.();
  };
  const stopResizes = ctx.io.terminal?.onResize?.((size) => push({ resize: size }));
  done.addEventListener('abort', () => wake?.());
  void (async () => {
    try {
      for await (const chunk of ctx.io.stdin) {
        const data = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk);
        push({ stdin: data.toString('base64') });
      }
    } catch {
      // stdin was released (the command ended) or broke: either way nothing more comes from it.
    }
    push({ eof: true });
  })();
  try {
    while (!done.aborted) {
      for (let frame = queue.shift(); frame; frame = queue.shift()) {
        yield JSON.stringify(frame) + '\n';
        if (frame.eof && !stopResizes) return;
      }
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  } finally {
    stopResizes?.();
  }
}

async function buildOf(client: ApiClient, opts: InterceptOptions): Promise<number> {
  if (opts.job === undefined) {
    if (opts.build === undefined)
      throw new CliError('name the build: -b BUILD_ID, or -j PIPELINE/JOB [-b NAME]');
    return parsePositiveInt(opts.build, 'build id');
  }
  const ref = parseJobRef(opts.job);
  if (opts.build !== undefined) return (await client.getJobBuild(ref.pipeline, ref.job, opts.build)).id;
  const [latest] = await client.listBuilds({ pipeline: ref.pipeline, job: ref.job, limit: 1 });
  if (!latest) throw new CliError(`${NO_MATCH}: job ${ref.pipeline}/${ref.job} has no builds`);
  return latest.id;
}

/** fly's words when nothing can be intercepted (scripts and Concourse's own specs look for them). */
const NO_MATCH = 'no containers matched your search parameters';

/**
 * The frames, with a handle that names nothing the caller may enter (none, gone, another team's: 404;
 * not a step run's id, as a Concourse handle would be: 400) reported in fly's words.
 */
async function* withFlyErrors<T>(frames: AsyncGenerator<T>, byHandle: boolean): AsyncGenerator<T> {
  try {
    yield* frames;
  } catch (err) {
    if (byHandle && err instanceof ApiRequestError && (err.status === 404 || err.status === 400))
      throw new CliError(
        "no containers matched the given handle id!\n\nthey may have expired if your build hasn't recently finished.",
      );
    throw err;
  }
}
