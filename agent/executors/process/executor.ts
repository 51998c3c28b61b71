// The process executor: runs a step as a host process (macOS/Windows build boxes, local dev) in a
// fresh work dir, as the leader of its own process group.
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { ArchiveError, pack, unpack, type PackedArchive } from '../../artifacts/archive.js';
import { ErroredStep } from '../errored-step.js';
import type { ExecResult, ExecStep, Executor, LogData, RunningStep } from '../executor.js';
import { keepCaches, placeCaches, type PlacedCache } from './caches.js';
import { MergedLogStream } from './log-stream.js';
import { ProcessGroup, signalExitStatus, type GroupExit } from './process-group.js';
import { createWorkDir, materialize, planLayout, StepPathError, stepRootOf } from './workdir.js';

export interface ProcessExecutorOptions {
  /** Parent of every step's work dir (`<workRoot>/<leaseId>`). */
  workRoot: string;
  /** The environment every step starts from; default: PATH, HOME, LANG of the agent (+ Windows essentials). */
  baseEnv?: Record<string, string>;
  /** SIGTERM -> SIGKILL grace when a step's timeout elapses; default 10 s. */
  timeoutGraceMs?: number;
  /** Pause a step's output once this many bytes wait for the log consumer; default 1 MiB. */
  logHighWaterMark?: number;
}

// Descendants left running when the step's main process exits are the step's litter: they get this
// long after SIGTERM before SIGKILL.
const LEFTOVER_GRACE_MS = 1_000;
// A descendant that left the process group (setsid) may hold the output pipes open forever; once the
// step is over and no output arrived for this long, the pipes are closed from our side.
const PIPE_LINGER_MS = 2_000;
const DEFAULT_TIMEOUT_GRACE_MS = 10_000;

const BASE_ENV_KEYS =
  process.platform === 'win32'
    ? ['PATH', 'HOME', 'LANG', 'SystemRoot', 'SystemDrive', 'windir', 'ComSpec', 'PATHEXT', 'USERPROFILE']
    : ['PATH', 'HOME', 'LANG'];

function defaultBaseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of BASE_ENV_KEYS) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  return env;
}

export class ProcessExecutor implements Executor {
  readonly kind = 'process';
  private readonly workRoot: string;
  private readonly baseEnv: Record<string, string>;
  private readonly timeoutGraceMs: number;
  private readonly logHighWaterMark: number | undefined;

  constructor(opts: ProcessExecutorOptions) {
    this.workRoot = path.resolve(opts.workRoot);
    this.baseEnv = { ...(opts.baseEnv ?? defaultBaseEnv()) };
    this.timeoutGraceMs = opts.timeoutGraceMs ?? DEFAULT_TIMEOUT_GRACE_MS;
    this.logHighWaterMark = opts.logHighWaterMark;
  }

  async start(step: ExecStep): Promise<RunningStep> {
    // Rejects (agent-side bug) on a bad lease id or a reused work dir.
    const workDir = await createWorkDir(this.workRoot, step.leaseId);
    const never = (error: string) =>
      new ErroredStep(step.leaseId, error, () => rm(stepRootOf(workDir), { recursive: true, force: true }));

    const userProblem = checkUser(step.run.user);
    if (userProblem) return never(userProblem);
    if (step.run.path === '') return never('run.path: must not be empty');
    let layout;
    let caches: PlacedCache[];
    try {
      layout = planLayout(workDir, step);
      await materialize(layout, step.run.dir);
      for (const input of step.inputs) {
        if (input.archive) await unpack(input.archive, path.join(workDir, input.path));
      }
      caches = await placeCaches(workDir, step.caches ?? []);
    } catch (err) {
      if (err instanceof StepPathError) return never(err.message);
      if (err instanceof ArchiveError) return never(`input: ${err.message}`);
      throw err;
    }

    const env = {
      ...this.baseEnv,
      TMPDIR: layout.tmpDir,
      TMP: layout.tmpDir,
      TEMP: layout.tmpDir,
      ...step.env,
    };
    // A path with a separator is relative to the run dir; a bare name is looked up on the step's PATH.
    const hasSep =
      step.run.path.includes('/') || (process.platform === 'win32' && step.run.path.includes('\\'));
    const file = hasSep ? path.resolve(layout.runDir, step.run.path) : step.run.path;
    const group = new ProcessGroup(file, step.run.args, { cwd: layout.runDir, env });
    return new ProcessStep(step, workDir, group, caches, {
      timeoutGraceMs: this.timeoutGraceMs,
      logHighWaterMark: this.logHighWaterMark,
    });
  }
}

// Process pools cannot switch users yet: a step asking for another user must not silently run as us.
function checkUser(user: string): string | undefined {
  if (user === '') return undefined;
  let current: string;
  try {
    current = os.userInfo().username;
  } catch {
    current = '';
  }
  if (user === current) return undefined;
  return `run.user ${JSON.stringify(user)}: the process executor runs steps as the agent's user (${JSON.stringify(current)}) and cannot switch users`;
}

function spawnErrorMessage(runPath: string, err: NodeJS.ErrnoException): string {
  const what = `run.path ${JSON.stringify(runPath)}`;
  switch (err.code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return `${what}: command not found`;
    case 'EACCES':
    case 'EPERM':
      return `${what}: permission denied`;
    default:
      return `${what}: cannot start: ${err.message}`;
  }
}

/** A running (or finished) host process. `bufferedBytes`/`maxBufferedBytes` expose log backpressure. */
export class ProcessStep implements RunningStep {
  readonly leaseId: string;
  private readonly workDir: string;
  private readonly runPath: string;
  private readonly group: ProcessGroup;
  private readonly logStream: MergedLogStream;
  private readonly timeoutGraceMs: number;
  private readonly result: Promise<ExecResult>;
  private timeoutTimer: NodeJS.Timeout | undefined;
  /** Set when we decided to end the step (abort or timeout) before it ended on its own. */
  private ending: { status: 'aborted' | 'failed'; error: string } | undefined;
  private readonly outputs: ExecStep['outputs'];

  constructor(
    step: ExecStep,
    workDir: string,
    group: ProcessGroup,
    private readonly caches: PlacedCache[],
    opts: { timeoutGraceMs: number; logHighWaterMark: number | undefined },
  ) {
    this.leaseId = step.leaseId;
    this.outputs = step.outputs;
    this.workDir = workDir;
    this.runPath = step.run.path;
    this.group = group;
    this.timeoutGraceMs = opts.timeoutGraceMs;
    const { stdout, stderr } = group.child;
    if (!stdout || !stderr) throw new Error('child process without pipes');
    this.logStream = new MergedLogStream(
      [
        { stream: 'stdout', readable: stdout },
        { stream: 'stderr', readable: stderr },
      ],
      opts.logHighWaterMark === undefined ? {} : { highWaterMark: opts.logHighWaterMark },
    );
    if (step.timeoutMs > 0) {
      this.timeoutTimer = setTimeout(() => {
        this.end({ status: 'failed', error: 'timeout exceeded' }, this.timeoutGraceMs);
      }, step.timeoutMs);
    }
    // Caches go back as soon as the step ends, so the next build of the step can have them at once.
    this.result = this.follow().then(async (result) => {
      await keepCaches(this.caches.splice(0));
      return result;
    });
  }

  get bufferedBytes(): number {
    return this.logStream.bufferedBytes;
  }

  get maxBufferedBytes(): number {
    return this.logStream.maxBufferedBytes;
  }

  logs(): AsyncIterable<LogData> {
    return this.logStream;
  }

  wait(): Promise<ExecResult> {
    return this.result;
  }

  async abort(graceMs: number, _reason: string): Promise<void> {
    this.end({ status: 'aborted', error: 'interrupted' }, graceMs);
    await this.group.terminate(graceMs);
    await this.group.exit;
  }

  collectOutputs(dir: string, maxBytes: number): Promise<{ name: string; archive: PackedArchive }[]> {
    return packOutputs(this.workDir, this.outputs, dir, maxBytes);
  }

  async cleanup(): Promise<void> {
    if (!this.group.leaderEnded) await this.abort(0, 'cleanup');
    clearTimeout(this.timeoutTimer);
    await keepCaches(this.caches.splice(0));
    await rm(stepRootOf(this.workDir), { recursive: true, force: true });
  }

  private end(why: { status: 'aborted' | 'failed'; error: string }, graceMs: number): void {
    // A step that already ended on its own keeps its own result.
    if (this.group.leaderEnded || this.ending) return;
    this.ending = why;
    void this.group.terminate(graceMs);
  }

  private async follow(): Promise<ExecResult> {
    const exit: GroupExit = await this.group.exit;
    clearTimeout(this.timeoutTimer);
    if (exit.kind === 'spawn-error') {
      this.logStream.destroy();
      await this.logStream.drained;
      return { status: 'errored', exitStatus: -1, error: spawnErrorMessage(this.runPath, exit.error) };
    }
    // The step is over; whatever it left running in its group goes too (an abort's own grace stands).
    if (!this.group.terminating) await this.group.terminate(LEFTOVER_GRACE_MS);
    this.logStream.endWhenIdle(PIPE_LINGER_MS);
    await this.logStream.drained;

    const exitStatus = exit.code ?? (exit.signal ? signalExitStatus(exit.signal) : -1);
    if (this.ending) return { status: this.ending.status, exitStatus, error: this.ending.error };
    if (exit.code === 0) return { status: 'succeeded', exitStatus: 0, error: undefined };
    return {
      status: 'failed',
      exitStatus,
      error: exit.signal ? `killed by ${exit.signal}` : undefined,
    };
  }
}

/** Packs each output directory of a step's work dir into `dir`. */
async function packOutputs(
  workDir: string,
  outputs: ExecStep['outputs'],
  dir: string,
  maxBytes: number,
): Promise<{ name: string; archive: PackedArchive }[]> {
  const packed: { name: string; archive: PackedArchive }[] = [];
  for (const output of outputs) {
    const file = path.join(dir, `${randomUUID()}.tar`);
    try {
      packed.push({
        name: output.name,
        archive: await pack(path.join(workDir, output.path), file, maxBytes),
      });
    } catch (err) {
      await rm(file, { force: true });
      throw new Error(`output "${output.name}": ${(err as Error).message}`, { cause: err });
    }
  }
  return packed;
}
