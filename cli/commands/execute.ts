// `outpost execute` (fly execute): runs a task file from this machine as a one-off build of the
// target's team. Local directories are uploaded as its inputs (the others can come from a job's latest
// build), the log is streamed, outputs are downloaded afterwards, and the exit code is fly's.

import { createReadStream } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { compileTaskConfig } from '../../hub/pipeline/compile.js';
import { formatDiagnostic, hasErrors } from '../../hub/pipeline/diagnostics.js';
import type { CreateOneOffBuildRequest } from '../../hub/api/types.js';
import type { TaskConfig } from '../../hub/pipeline/plan.js';
import { parseTaskConfig } from '../../hub/pipeline/task-config.js';
import { ApiRequestError, parseRef, type ApiClient } from '../api-client.js';
import { packDir, unpackInto } from '../archive.js';
import { parseJobRef, type CliContext } from '../context.js';
import { CliError } from '../io.js';
import { ProgressBar } from '../render/progress.js';
import { addVarOptions, readUserFile, readVars, type VarOptions } from '../vars.js';
import { streamBuild } from './watch.js';

interface ExecuteOptions extends VarOptions {
  config: string;
  privileged?: boolean;
  includeIgnored?: boolean;
  input: string[];
  inputMapping: string[];
  inputsFrom?: string;
  output: string[];
  image?: string;
  tag: string[];
  background?: boolean;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function registerExecute(program: Command, ctx: CliContext): void {
  addVarOptions(
    program
      .command('execute')
      .description('Run a task from a local file as a one-off build, with local directories as its inputs')
      .requiredOption('-c, --config <file>', 'the task config to execute')
      .option('-p, --privileged', 'run the task with full privileges')
      .option('--include-ignored', 'upload paths .gitignore files ignore, too')
      .option('-i, --input <name=dir>', 'an input to upload from a directory (repeatable)', collect, [])
      .option('-m, --input-mapping <name=input>', "take a task input from this -j job's input", collect, [])
      .option(
        '-j, --inputs-from <pipeline/job>',
        "take the inputs not given with -i from the job's latest build",
      )
      .option('-o, --output <name=dir>', 'download an output into a directory after the build', collect, [])
      .option('--image <resource>', "use this -j job's input as the task's image")
      .option('--tag <tag>', 'run on a pool with this tag (repeatable)', collect, [])
      .option('-b, --background', 'create the build and exit: neither watch its log nor download outputs'),
  )
    .argument('[args...]', "after --: arguments appended to the task's run.args")
    .addHelpText(
      'after',
      `
Without -i, an input named like the current directory is uploaded from it (as fly does).
Exit status: the task's own exit status; else 1 failed, 2 errored, 3 aborted. Ctrl-C aborts the build.
Examples:
  outpost execute -c ci/unit.yml -i repo=.
  outpost execute -c ci/unit.yml -j my-app/unit -i repo=. -o report=./out -- --verbose`,
    )
    .action(async (args: string[], opts: ExecuteOptions, cmd: Command) => {
      if (opts.image !== undefined && opts.inputsFrom === undefined)
        throw new CliError('--image needs --inputs-from (-j): it names an input of that job');
      const vars = await readVars(opts);
      const text = await readUserFile(opts.config);
      const config = parseConfig(text, opts.config, vars);
      const inputs = localInputs(config, pairs(opts.input, '-i', 'name=dir'), opts.inputsFrom === undefined);
      const outputs = pairs(opts.output, '-o', 'name=dir');
      for (const o of outputs)
        if (!config.outputs.some((c) => c.name === o.name))
          throw new CliError(`unknown output \`${o.name}\``);
      const inputsFrom = opts.inputsFrom === undefined ? undefined : jobOfInputs(opts.inputsFrom);
      const client = await ctx.client(cmd);

      const uploaded: { name: string; digest: string }[] = [];
      for (const input of inputs)
        uploaded.push({ name: input.name, digest: await upload(ctx, client, input, opts) });
      const build = await client.createOneOffBuild({
        config: text,
        configPath: opts.config,
        vars,
        inputs: uploaded,
        ...(inputsFrom ? { inputsFrom } : {}),
        inputMappings: Object.fromEntries(
          pairs(opts.inputMapping, '-m', 'name=input').map((p) => [p.name, p.value]),
        ),
        ...(opts.image !== undefined ? { image: opts.image } : {}),
        privileged: opts.privileged === true,
        tags: opts.tag,
        args,
      });
      ctx.out(`executing build ${build.id} at ${client.baseUrl}/builds/${build.id}\n`);
      if (opts.background === true) return;

      const code = await followAborting(ctx, client, build.id);
      if (code === undefined) {
        ctx.err('exiting immediately\n');
        ctx.exitCode = 2;
        return;
      }
      for (const output of outputs) await download(ctx, client, build.id, output);
      ctx.exitCode = code;
    });
}

function parseConfig(text: string, file: string, vars: Record<string, unknown>): TaskConfig {
  const parsed = parseTaskConfig(text, file, { vars });
  if (!parsed.config || hasErrors(parsed.diagnostics))
    throw new CliError(`invalid task config:\n${parsed.diagnostics.map(formatDiagnostic).join('\n')}`);
  return compileTaskConfig(parsed.config, undefined);
}

/** -j's job for the API: an instance's pipeline (`group/key:value/job`) as its name and instance vars. */
function jobOfInputs(text: string): NonNullable<CreateOneOffBuildRequest['inputsFrom']> {
  const { pipeline, job } = parseJobRef(text);
  const ref = parseRef(pipeline);
  return { pipeline: ref.name, ...(ref.instanceVars ? { instance_vars: ref.instanceVars } : {}), job };
}

/** `name=value` flags, split; an unsplittable one is an error naming the flag. */
function pairs(values: string[], flag: string, shape: string): { name: string; value: string }[] {
  return values.map((v) => {
    const eq = v.indexOf('=');
    if (eq <= 0 || eq === v.length - 1) throw new CliError(`invalid ${flag} '${v}': expected ${shape}`);
    return { name: v.slice(0, eq), value: v.slice(eq + 1) };
  });
}

/** The -i inputs, checked against the task; fly adds the current directory for an input named after it. */
function localInputs(
  config: TaskConfig,
  given: { name: string; value: string }[],
  withoutJob: boolean,
): { name: string; dir: string }[] {
  for (const g of given)
    if (!config.inputs.some((i) => i.name === g.name)) throw new CliError(`unknown input \`${g.name}\``);
  const inputs = given.map((g) => ({ name: g.name, dir: g.value }));
  const here = path.basename(path.resolve('.'));
  if (withoutJob && config.inputs.some((i) => i.name === here) && !inputs.some((i) => i.name === here))
    inputs.push({ name: here, dir: '.' });
  if (withoutJob)
    for (const input of config.inputs)
      if (!input.optional && !inputs.some((i) => i.name === input.name))
        throw new CliError(`missing required input \`${input.name}\``);
  return inputs;
}

async function upload(
  ctx: CliContext,
  client: ApiClient,
  input: { name: string; dir: string },
  opts: ExecuteOptions,
): Promise<string> {
  const packed = await packDir(input.dir, opts.includeIgnored === true);
  try {
    const bar = new ProgressBar(ctx.io.stderr, `uploading ${input.name}`, packed.size, ctx.io.isTTY);
    const ref = await client.uploadArtifact(createReadStream(packed.file).pipe(bar.meter()), packed.size);
    bar.finish();
    return ref.digest;
  } catch (err) {
    if (err instanceof ApiRequestError) throw new CliError(`uploading ${input.name} failed: ${err.message}`);
    throw err;
  } finally {
    await packed.dispose();
  }
}

/**
 * Streams the build's log; the first interrupt aborts the build (whose end is still shown), a second
 * stops waiting. fly's exit code, or undefined when the user stopped waiting.
 */
async function followAborting(
  ctx: CliContext,
  client: ApiClient,
  buildId: number,
): Promise<number | undefined> {
  const stop = new AbortController();
  let interrupts = 0;
  const unsubscribe = ctx.io.onInterrupt?.(() => {
    if (++interrupts > 1) return stop.abort();
    ctx.err('\naborting...\n');
    client.abortBuild(buildId).catch((err: unknown) => {
      ctx.err(`failed to abort: ${(err as Error).message}\n`);
      stop.abort();
    });
  });
  try {
    const code = await streamBuild(ctx, client, buildId, { timestamps: false, signal: stop.signal });
    return stop.signal.aborted ? undefined : code;
  } catch (err) {
    if (stop.signal.aborted) return undefined;
    throw err;
  } finally {
    unsubscribe?.();
  }
}

async function download(
  ctx: CliContext,
  client: ApiClient,
  buildId: number,
  output: { name: string; value: string },
): Promise<void> {
  let fetched;
  try {
    fetched = await client.downloadOutput(buildId, output.name);
  } catch (err) {
    if (err instanceof ApiRequestError && err.status === 404) {
      ctx.err(`output ${output.name} was not produced; nothing downloaded\n`);
      return;
    }
    throw err;
  }
  const bar = new ProgressBar(ctx.io.stderr, `downloading ${output.name}`, fetched.size, ctx.io.isTTY);
  await unpackInto(fetched.body.pipe(bar.meter()), output.value);
  bar.finish();
}
