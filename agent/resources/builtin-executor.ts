// Runs the built-in resource types (git, mock, time) inside the agent process, behind the same Executor
// contract as the process and kubernetes executors: the step's log lines come out of logs() (stderr,
// as a resource's would), abort ends it 'aborted', its timeout ends it 'failed' ("timeout exceeded"),
// a get's destination is an output packed like any other, and cleanup removes its directory.

import { mkdir, rm } from 'node:fs/promises';
import { ArchiveError, unpack, type PackedArchive } from '../artifacts/archive.js';
import { ErroredStep } from '../executors/errored-step.js';
import type {
  ExecResource,
  ExecResult,
  ExecStep,
  Executor,
  LogData,
  RunningStep,
  StepShell,
} from '../executors/executor.js';
import { secretEnvProblem } from '../executors/secret-env.js';
import { type BuiltinContext, type BuiltinResource, ResourceFailure } from './builtin.js';
import { git } from './git/git.js';
import { mock } from './mock.js';
import { registryImage } from './registry-image/lazy.js';
import { semverResource } from './semver/semver.js';
import type { BuiltinType } from './builtin-types.js';
import { validateResponse } from './protocol.js';
import { time } from './time.js';
import { createStepDirs, packOutputs, resolveInside, StepPathError } from '../artifacts/step-dirs.js';
import { sweepStepDirs } from './workdir.js';

export interface BuiltinExecutorOptions {
  /** Parent of every step's directory (`<workRoot>/<leaseId>`). */
  workRoot: string;
  /** The clock the types read (tests inject one). */
  now?: () => Date;
  /** The types by name; default git, mock and time. */
  types?: Record<string, BuiltinResource>;
  /**
   * Whether `outpost intercept` may enter a step: a shell in its directory (a put's inputs, a get's
   * destination), as the agent's user. Only where the pool's own steps are host processes run as that
   * user: elsewhere (a kubernetes pool, run_as) it would be a shell in the agent's own container, or
   * as a user the pool's steps are not.
   */
  shell?: boolean;
}

export const BUILTINS: Record<BuiltinType, BuiltinResource> = {
  git,
  mock,
  'registry-image': registryImage,
  semver: semverResource,
  time,
};

export class BuiltinResourceExecutor implements Executor {
  readonly kind = 'builtin';
  private readonly now: () => Date;
  private readonly types: Record<string, BuiltinResource>;

  constructor(private readonly opts: BuiltinExecutorOptions) {
    this.now = opts.now ?? (() => new Date());
    this.types = opts.types ?? BUILTINS;
  }

  async start(step: ExecStep): Promise<RunningStep> {
    const resource = step.resource;
    if (!resource)
      return new ErroredStep(step.leaseId, 'not a resource step: the built-in executor runs only resources');
    const impl = Object.hasOwn(this.types, resource.type) ? this.types[resource.type] : undefined;
    if (!impl)
      return new ErroredStep(
        step.leaseId,
        `resource type "${resource.type}" is not built in (built in: ${Object.keys(this.types).join(', ')})`,
      );
    const problem = secretEnvProblem(step);
    if (problem) return new ErroredStep(step.leaseId, problem);

    const { root, work } = createStepDirs(this.opts.workRoot, step.leaseId);
    const removeAll = () => rm(root, { recursive: true, force: true });
    let dir = work;
    try {
      for (const input of step.inputs) {
        const at = resolveInside(
          work,
          input.path,
          `input "${input.name}" path ${JSON.stringify(input.path)}`,
        );
        // An optional input that was not provided stays absent, as in Concourse.
        if (input.archive) await unpack(input.archive, at);
      }
      for (const output of step.outputs) {
        const at = resolveInside(
          work,
          output.path,
          `output "${output.name}" path ${JSON.stringify(output.path)}`,
        );
        await mkdir(at, { recursive: true });
      }
      // A get fetches into its (one) output: the destination.
      const dest = step.outputs[0];
      if (resource.kind === 'get' && dest) dir = resolveInside(work, dest.path, `output "${dest.name}"`);
    } catch (err) {
      if (err instanceof StepPathError) return new ErroredStep(step.leaseId, err.message, removeAll);
      if (err instanceof ArchiveError)
        return new ErroredStep(step.leaseId, `input: ${err.message}`, removeAll);
      await removeAll();
      throw err;
    }
    const running = new BuiltinStep(step, resource, root, work, dir, impl, this.now);
    if (this.opts.shell) running.shell = { cwd: dir, env: { ...step.env } };
    return running;
  }

  /** Directories of steps that died with an earlier agent process. */
  sweep(keep: Set<string>): Promise<void> {
    return sweepStepDirs(this.opts.workRoot, keep);
  }
}

export class BuiltinStep implements RunningStep {
  readonly leaseId: string;
  shell: StepShell | undefined;
  private readonly lines = new LineQueue();
  private readonly controller = new AbortController();
  /** Set when we ended the step (abort, timeout) before the type finished on its own. */
  private ending: { status: 'aborted' | 'failed'; error: string } | undefined;
  private finished = false;
  private stop: () => void = () => {};
  private readonly timer: NodeJS.Timeout | undefined;
  /** Settles when the type's code is done touching the step's directory. */
  private readonly settled: Promise<void>;
  private readonly result: Promise<ExecResult>;

  constructor(
    private readonly step: ExecStep,
    private readonly resource: ExecResource,
    private readonly root: string,
    private readonly work: string,
    dir: string,
    impl: BuiltinResource,
    now: () => Date,
  ) {
    this.leaseId = step.leaseId;
    const ctx: BuiltinContext = {
      kind: this.resource.kind,
      requestJson: this.resource.request,
      dir,
      env: { ...step.env },
      privileged: step.privileged,
      log: (line) => this.lines.push({ stream: 'stderr', data: Buffer.from(`${line}\n`), at: Date.now() }),
      signal: this.controller.signal,
      now,
    };
    if (step.timeoutMs > 0)
      this.timer = setTimeout(
        () => this.end({ status: 'failed', error: 'timeout exceeded' }),
        step.timeoutMs,
      );
    const stopped = new Promise<'stopped'>((resolve) => (this.stop = () => resolve('stopped')));
    const ran = Promise.resolve()
      .then(() => impl(ctx))
      .then(
        (response) => ({ response }),
        (err: unknown) => ({ err }),
      )
      .finally(() => (this.finished = true));
    this.settled = ran.then(() => undefined);
    this.result = Promise.race([ran, stopped]).then((outcome) => {
      clearTimeout(this.timer);
      const result = this.conclude(outcome);
      this.lines.end();
      return result;
    });
  }

  private conclude(outcome: 'stopped' | { response: unknown } | { err: unknown }): ExecResult {
    if (this.ending) return { status: this.ending.status, exitStatus: -1, error: this.ending.error };
    if (outcome === 'stopped') throw new Error('stopped without a reason'); // unreachable: end() sets ending
    if ('err' in outcome) {
      const err = outcome.err;
      const message = err instanceof Error ? err.message : String(err);
      this.lines.push({ stream: 'stderr', data: Buffer.from(`${message}\n`), at: Date.now() });
      return {
        status: 'failed',
        exitStatus: 1,
        error: err instanceof ResourceFailure ? message : `resource error: ${message}`,
      };
    }
    // A type that returned nothing printed nothing.
    const printed = outcome.response === undefined ? '' : JSON.stringify(outcome.response);
    const checked = validateResponse(this.resource.kind, printed);
    if ('error' in checked) return { status: 'errored', exitStatus: -1, error: checked.error };
    return { status: 'succeeded', exitStatus: 0, error: undefined, resourceResult: checked.json };
  }

  logs(): AsyncIterable<LogData> {
    return this.lines;
  }

  wait(): Promise<ExecResult> {
    return this.result;
  }

  async abort(_graceMs: number, _reason: string): Promise<void> {
    this.end({ status: 'aborted', error: 'interrupted' });
    await this.result;
  }

  collectOutputs(dir: string, maxBytes: number): Promise<{ name: string; archive: PackedArchive }[]> {
    return packOutputs(this.work, this.step.outputs, dir, maxBytes);
  }

  async cleanup(): Promise<void> {
    this.end({ status: 'aborted', error: 'interrupted' });
    await this.result;
    await this.settled;
    await rm(this.root, { recursive: true, force: true });
  }

  private end(why: { status: 'aborted' | 'failed'; error: string }): void {
    // A step that already ended on its own keeps its own result.
    if (this.finished || this.ending) return;
    this.ending = why;
    this.controller.abort();
    this.stop();
  }
}

/** The step's log lines, in order; ends once the step has ended. */
class LineQueue implements AsyncIterable<LogData> {
  private readonly items: LogData[] = [];
  private ended = false;
  private wake: (() => void) | undefined;

  push(item: LogData): void {
    if (this.ended) return;
    this.items.push(item);
    this.wake?.();
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<LogData> {
    for (;;) {
      const item = this.items.shift();
      if (item) {
        yield item;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}
