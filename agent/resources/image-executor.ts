// Runs a resource type that comes as an image (git, registry-image, ...) on the pool's own executor:
// the resource step becomes an ordinary step from `image` whose command is a small `sh -c` wrapper:
//
//   check: exec /opt/resource/check             < $REQ/request.json > $RES/response.json
//   get:   mkdir -p DEST && exec /opt/resource/in "$PWD/DEST" < ...  > ...
//   put:   exec /opt/resource/out "$PWD"          < ...  > ...
//
// The request arrives as one more input (REQUEST_DIR, holding request.json) and the resource's stdout
// lands in one more output (RESPONSE_DIR); stderr stays the step's log. After the step, the response
// is read from that output here, on the agent: it is never uploaded. Only a get's destination is.

import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pack, unpack, type PackedArchive } from '../artifacts/archive.js';
import { ErroredStep } from '../executors/errored-step.js';
import type {
  ExecResource,
  ExecResult,
  ExecStep,
  Executor,
  HeldResource,
  LogData,
  RunningStep,
} from '../executors/executor.js';
import { MAX_RESPONSE_BYTES, validateResponse } from './protocol.js';

export const REQUEST_DIR = '.outpost-resource-request';
export const RESPONSE_DIR = '.outpost-resource-response';
export const DEFAULT_SCRIPT_DIR = '/opt/resource';

export interface ImageResourceOptions {
  /** Where outputs are packed (the runner's scratch dir, beside the artifact cache). */
  scratchDir: () => Promise<string>;
  /** The largest output archive. */
  maxOutputBytes: () => number;
  /** Where the image keeps check/in/out; tests point it elsewhere. */
  scriptDir?: string;
}

/** The wrapper's `sh -c` script and its arguments for `kind`; `dest` is the get's destination path. */
export function wrapperCommand(
  kind: ExecResource['kind'],
  dest: string,
  scriptDir: string,
): { path: string; args: string[] } {
  const io = '< "$1/request.json" > "$2/response.json"';
  const script =
    kind === 'check'
      ? `exec "$3/check" ${io}`
      : kind === 'get'
        ? `mkdir -p "$4" && exec "$3/in" "$PWD/$4" ${io}`
        : `exec "$3/out" "$PWD" ${io}`;
  return { path: 'sh', args: ['-c', script, 'sh', REQUEST_DIR, RESPONSE_DIR, scriptDir, dest] };
}

export class ImageResourceExecutor implements Executor {
  readonly kind: string;

  constructor(
    private readonly inner: Executor,
    private readonly opts: ImageResourceOptions,
  ) {
    this.kind = inner.kind;
  }

  async start(step: ExecStep): Promise<RunningStep> {
    const resource = step.resource;
    if (!resource) return this.inner.start(step);
    if (!step.image?.repository)
      return new ErroredStep(step.leaseId, `resource type "${resource.type}" has no image to run from`);
    const temp = await mkdtemp(path.join(os.tmpdir(), 'outpost-resource-'));
    try {
      const requestDir = path.join(temp, 'request');
      await mkdir(requestDir);
      await writeFile(path.join(requestDir, 'request.json'), resource.request);
      const requestTar = await pack(requestDir, path.join(temp, 'request.tar'), 64 * 1024 * 1024);
      const dest = resource.kind === 'get' ? (step.outputs[0]?.path ?? '.') : '.';
      const command = wrapperCommand(resource.kind, dest, this.opts.scriptDir ?? DEFAULT_SCRIPT_DIR);
      const running = await this.inner.start({
        ...step,
        // The executor keeps kind, type and response output with the step (never the request), so a
        // step reattached after an agent restart comes back through resumeImageResource().
        resource: { ...resource, responseOutput: RESPONSE_DIR },
        run: { ...command, dir: '', user: '' },
        inputs: [...step.inputs, { name: REQUEST_DIR, path: REQUEST_DIR, archive: requestTar.file }],
        outputs: [...step.outputs, { name: RESPONSE_DIR, path: RESPONSE_DIR }],
      });
      const held = { kind: resource.kind, type: resource.type, responseOutput: RESPONSE_DIR };
      return new ImageResourceStep(running, held, temp, this.opts);
    } catch (err) {
      await rm(temp, { recursive: true, force: true });
      throw err;
    }
  }
}

/**
 * A step an executor reattached after an agent restart: when it was started as a resource from an
 * image (its `resumedResource` came back), it reports the response and uploads only the get's
 * destination, as the first agent process would have; any other step is returned as it is.
 */
export async function resumeImageResource(
  running: RunningStep,
  opts: ImageResourceOptions,
): Promise<RunningStep> {
  const resource = running.resumedResource;
  if (!resource) return running;
  const temp = await mkdtemp(path.join(os.tmpdir(), 'outpost-resource-'));
  return new ImageResourceStep(running, resource, temp, opts);
}

export class ImageResourceStep implements RunningStep {
  readonly leaseId: string;
  private result: Promise<ExecResult> | undefined;
  /** The step's own outputs (a get's destination), packed while reading the response. */
  private outputs: { name: string; archive: PackedArchive }[] = [];
  private outputsTaken = false;

  constructor(
    private readonly inner: RunningStep,
    private readonly resource: HeldResource,
    private readonly temp: string,
    private readonly opts: ImageResourceOptions,
  ) {
    this.leaseId = inner.leaseId;
  }

  get redact(): readonly string[] | undefined {
    return this.inner.redact;
  }

  logs(): AsyncIterable<LogData> {
    return this.inner.logs();
  }

  wait(): Promise<ExecResult> {
    this.result ??= this.finish();
    return this.result;
  }

  abort(graceMs: number, reason: string): Promise<void> {
    return this.inner.abort(graceMs, reason);
  }

  /** The outputs other than the response; a resource that did not succeed has none. */
  async collectOutputs(): Promise<{ name: string; archive: PackedArchive }[]> {
    await this.wait();
    this.outputsTaken = true;
    return this.outputs;
  }

  async cleanup(): Promise<void> {
    await this.inner.cleanup();
    if (!this.outputsTaken) for (const o of this.outputs) await rm(o.archive.file, { force: true });
    await rm(this.temp, { recursive: true, force: true });
  }

  private async finish(): Promise<ExecResult> {
    const result = await this.inner.wait();
    const script = `${this.opts.scriptDir ?? DEFAULT_SCRIPT_DIR}/${scriptName(this.resource.kind)}`;
    if (result.status === 'failed' && result.exitStatus === 127 && !result.error)
      return {
        ...result,
        error: `exit status 127: does the image of resource type "${this.resource.type}" have ${script}?`,
      };
    if (result.status !== 'succeeded') return result;
    const errored = (error: string): ExecResult => ({
      status: 'errored',
      exitStatus: result.exitStatus,
      error,
    });
    let packed: { name: string; archive: PackedArchive }[];
    try {
      packed = await this.inner.collectOutputs(await this.opts.scratchDir(), this.opts.maxOutputBytes());
    } catch (err) {
      return errored((err as Error).message);
    }
    const responseOutput = this.resource.responseOutput;
    const response = packed.find((p) => p.name === responseOutput);
    this.outputs = packed.filter((p) => p.name !== responseOutput);
    if (!response) return errored(`${this.resource.kind}: the resource's response was not collected`);
    const dir = path.join(this.temp, 'response');
    try {
      await unpack(response.archive.file, dir);
    } catch (err) {
      return errored(`${this.resource.kind} response: ${(err as Error).message}`);
    } finally {
      await rm(response.archive.file, { force: true });
    }
    const file = path.join(dir, 'response.json');
    const size = await stat(file).then(
      (s) => s.size,
      () => undefined,
    );
    if (size === undefined) return errored(`${this.resource.kind} response: ${script} left no stdout`);
    if (size > MAX_RESPONSE_BYTES)
      return errored(
        `${this.resource.kind} response is ${size} bytes, over the limit of ${MAX_RESPONSE_BYTES} (1 MiB)`,
      );
    const checked = validateResponse(this.resource.kind, await readFile(file, 'utf8'));
    if ('error' in checked) return errored(checked.error);
    return { ...result, resourceResult: checked.json };
  }
}

function scriptName(kind: ExecResource['kind']): string {
  return kind === 'check' ? 'check' : kind === 'get' ? 'in' : 'out';
}
