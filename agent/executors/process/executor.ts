// The process executor: runs a step as a host process (macOS/Windows build boxes, local dev) in a
// fresh work dir. Each step runs under its own supervisor (supervisor.ts), a small detached Node
// process that outlives the agent: it owns the step's process group, writes its output to a record
// file and its result to a file in the step's state dir (state.ts). The agent only reads those files,
// so a restarted agent reattaches to its steps (listHeld/reattach) and replays their logs from disk.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ArchiveError, unpack, type PackedArchive } from '../../artifacts/archive.js';
import { ErroredStep } from '../errored-step.js';
import {
  heldResource,
  parseHeldResource,
  type ExecResult,
  type ExecStep,
  type Executor,
  type HeldResource,
  type LogData,
  type RunningStep,
} from '../executor.js';
import { keepCaches, placeCaches, type PlacedCache } from './caches.js';
import { chrooted, chrootProblem, copyRootfs } from './chroot.js';
import { followRecordFile } from './log-stream.js';
import { STATE_DIR_NAME, stateFile, writeFileAtomic, type LaunchSpec, type ResultFile } from './state.js';
import { supervisorScript } from './supervisor-script.js';
import { packOutputs, StepPathError } from '../../artifacts/step-dirs.js';
import { createWorkDir, materialize, planLayout, stepRootOf } from './workdir.js';

export interface ProcessExecutorOptions {
  /** Parent of every step's directory (`<workRoot>/<leaseId>`). */
  workRoot: string;
  /** The environment every step starts from; default: PATH, HOME, LANG of the agent (+ Windows essentials). */
  baseEnv?: Record<string, string>;
  /** SIGTERM -> SIGKILL grace when a step's timeout elapses; default 10 s. */
  timeoutGraceMs?: number;
}

const DEFAULT_TIMEOUT_GRACE_MS = 10_000;
// How often the agent looks for a step's result while it runs (a fresh step's supervisor exiting
// wakes it at once).
const RESULT_POLL_MAX_MS = 200;
// sweep(): how long a swept step's supervisor gets to stop its step before its group is killed.
const SWEEP_WAIT_MS = 3_000;

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

/** held.json: what a reattaching agent needs of the step (mode 0600: it holds the redaction list). */
interface HeldFile {
  leaseId: string;
  runPath: string;
  outputs: ExecStep['outputs'];
  caches: PlacedCache[];
  redact: string[];
  startedAt: number;
  /** A resource step from an image: kind, type, response output (never its request). */
  resource?: HeldResource;
}

export class ProcessExecutor implements Executor {
  readonly kind = 'process';
  private readonly workRoot: string;
  private readonly baseEnv: Record<string, string>;
  private readonly timeoutGraceMs: number;
  /** Leases this executor object started or reattached: sweep() never touches them. */
  private readonly owned = new Set<string>();

  constructor(opts: ProcessExecutorOptions) {
    this.workRoot = path.resolve(opts.workRoot);
    this.baseEnv = { ...(opts.baseEnv ?? defaultBaseEnv()) };
    this.timeoutGraceMs = opts.timeoutGraceMs ?? DEFAULT_TIMEOUT_GRACE_MS;
  }

  async start(step: ExecStep): Promise<RunningStep> {
    // Rejects (agent-side bug) on a bad lease id or a reused work dir.
    const workDir = await createWorkDir(this.workRoot, step.leaseId);
    this.owned.add(step.leaseId);
    const forget = () => this.owned.delete(step.leaseId);
    const never = (error: string) =>
      new ErroredStep(step.leaseId, error, async () => {
        await rm(stepRootOf(workDir), { recursive: true, force: true });
        forget();
      });

    const userProblem = checkUser(step.run.user);
    if (userProblem) return never(userProblem);
    if (step.run.path === '') return never('run.path: must not be empty');
    const imageProblem = step.rootfs === undefined ? undefined : chrootProblem();
    if (imageProblem) return never(imageProblem);
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

    const stepRoot = stepRootOf(workDir);
    const stateDir = path.join(stepRoot, STATE_DIR_NAME);
    await mkdir(stateDir, { mode: 0o700 });
    const held: HeldFile = {
      leaseId: step.leaseId,
      runPath: step.run.path,
      outputs: step.outputs,
      caches,
      redact: step.redact ?? [],
      startedAt: Date.now(),
    };
    const resource = heldResource(step);
    if (resource) held.resource = resource;
    await writeFile(stateFile(stateDir, 'held'), JSON.stringify(held), { mode: 0o600 });
    let launch: LaunchSpec = {
      file,
      args: step.run.args,
      cwd: layout.runDir,
      env,
      runPath: step.run.path,
      timeoutMs: step.timeoutMs,
      timeoutGraceMs: this.timeoutGraceMs,
    };
    if (step.rootfs !== undefined)
      launch = chrooted(launch, copyRootfs(step.rootfs, stepRoot), [workDir, layout.tmpDir]);
    const child = await spawnSupervisor(stateDir, launch);
    const running = new ProcessStep(stepRoot, held, child, forget);
    // An intercepting shell runs on the host: only for steps that run there too.
    if (step.rootfs === undefined) running.shell = { cwd: layout.runDir, env };
    return running;
  }

  /**
   * Leases of steps a previous agent process started. A step whose process never started (the agent
   * died between accepting it and handing over its launch) is left out: the hub then runs it again
   * elsewhere, and the sweep after the Welcome removes what is left of it.
   */
  async listHeld(): Promise<string[]> {
    const leases: string[] = [];
    for (const name of await this.stepDirs()) {
      const stepRoot = path.join(this.workRoot, name);
      const held = readHeld(stepRoot);
      if (held?.leaseId === name && !(await neverStarted(path.join(stepRoot, STATE_DIR_NAME))))
        leases.push(name);
    }
    return leases;
  }

  reattach(leaseId: string): Promise<RunningStep | undefined> {
    const stepRoot = path.join(this.workRoot, leaseId);
    const held = readHeld(stepRoot);
    if (held?.leaseId !== leaseId) return Promise.resolve(undefined);
    this.owned.add(leaseId);
    const step = new ProcessStep(stepRoot, held, undefined, () => this.owned.delete(leaseId));
    step.resumedResource = parseHeldResource(held.resource);
    return Promise.resolve(step);
  }

  /** Stops and removes every step directory of a lease not in `keep` that this executor does not own. */
  async sweep(keep: Set<string>): Promise<void> {
    for (const name of await this.stepDirs()) {
      if (keep.has(name) || this.owned.has(name)) continue;
      const stepRoot = path.join(this.workRoot, name);
      const held = readHeld(stepRoot);
      if (held) {
        const step = new ProcessStep(stepRoot, held, undefined);
        await Promise.race([step.abort(0, 'swept'), sleep(SWEEP_WAIT_MS)]);
        step.killGroup();
        await keepCaches(held.caches);
      } else {
        // Crashed between creating the directory and starting the supervisor, or a supervisor of a
        // step whose held.json is unreadable: stop whatever runs there before deleting it.
        stopByFiles(path.join(stepRoot, STATE_DIR_NAME));
      }
      await rm(stepRoot, { recursive: true, force: true });
    }
  }

  private async stepDirs(): Promise<string[]> {
    const entries = await readdir(this.workRoot, { withFileTypes: true }).catch(() => []);
    return entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name);
  }
}

async function spawnSupervisor(stateDir: string, launch: LaunchSpec): Promise<ChildProcess> {
  const script = await supervisorScript();
  const errFd = openSync(stateFile(stateDir, 'supervisorLog'), 'a', 0o600);
  try {
    const child = spawn(process.execPath, [script, stateDir], {
      cwd: stateDir,
      // The supervisor needs nothing from the agent's environment; the step's env comes on stdin.
      env: {},
      // Own session and process group: the agent's death (or its terminal's) does not reach it.
      detached: true,
      stdio: ['pipe', 'ignore', errFd],
      windowsHide: true,
    });
    child.on('error', () => undefined); // seen as a supervisor without a result
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(JSON.stringify(launch));
    child.unref();
    // The supervisor writes it too, first thing; written here as well so that a reattach right after
    // this (the agent died now) finds it.
    if (child.pid !== undefined) writeFileAtomic(stateFile(stateDir, 'pid'), String(child.pid));
    return child;
  } finally {
    closeSync(errFd);
  }
}

function readHeld(stepRoot: string): HeldFile | undefined {
  try {
    return JSON.parse(
      readFileSync(stateFile(path.join(stepRoot, STATE_DIR_NAME), 'held'), 'utf8'),
    ) as HeldFile;
  } catch {
    return undefined;
  }
}

function readNumber(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** How long listHeld waits for a live supervisor that has no launch yet to give up on it. */
const LAUNCH_WAIT_MS = 2_000;

/**
 * Whether the step's process never started: no process group (pgid) was recorded, and the supervisor
 * either never ran, or said so (it finishes `notStarted` when its launch never arrives). A supervisor
 * still waiting for its launch is given LAUNCH_WAIT_MS (its stdin closed with the old agent).
 */
async function neverStarted(stateDir: string): Promise<boolean> {
  const deadline = Date.now() + LAUNCH_WAIT_MS;
  for (;;) {
    if (readNumber(stateFile(stateDir, 'pgid')) !== undefined) return false;
    const result = await readFile(stateFile(stateDir, 'result'), 'utf8').catch(() => undefined);
    if (result !== undefined) return (JSON.parse(result) as ResultFile).notStarted === true;
    const pid = readNumber(stateFile(stateDir, 'pid'));
    if (pid === undefined || !supervisorAlive(pid, stateDir)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function readResult(stateDir: string): Promise<ExecResult | undefined> {
  let text: string;
  try {
    text = await readFile(stateFile(stateDir, 'result'), 'utf8');
  } catch {
    return undefined;
  }
  const r = JSON.parse(text) as ResultFile;
  return { status: r.status, exitStatus: r.exitStatus, error: r.error ?? undefined };
}

/** Whether `pid` is a live (not zombie) supervisor of `stateDir`; guards against a reused pid. */
function supervisorAlive(pid: number, stateDir: string): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  if (process.platform !== 'linux') return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2)[0];
    if (state === 'Z' || state === 'X') return false;
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(stateDir);
  } catch {
    return false;
  }
}

/** SIGKILL to the step's process group, if it still has one (best effort). */
function killGroupOf(stateDir: string): void {
  const pgid = readNumber(stateFile(stateDir, 'pgid'));
  if (pgid === undefined || process.platform === 'win32') return;
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // gone
  }
}

function stopByFiles(stateDir: string): void {
  const pid = readNumber(stateFile(stateDir, 'pid'));
  if (pid !== undefined && supervisorAlive(pid, stateDir)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  killGroupOf(stateDir);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
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

/**
 * A step under its supervisor: started by this agent process (`child` set) or by an earlier one
 * (reattached). Everything it knows comes from the state dir.
 */
export class ProcessStep implements RunningStep {
  readonly leaseId: string;
  readonly redact: readonly string[];
  /** Set on a reattached resource step from an image (see executor.ts). */
  resumedResource: HeldResource | undefined;
  /** Set on a step this agent process started (a reattached one has lost its environment). */
  shell: { cwd: string; env: Record<string, string> } | undefined;
  private readonly stepRoot: string;
  private readonly stateDir: string;
  private readonly outputs: ExecStep['outputs'];
  private readonly caches: PlacedCache[];
  private ended: ExecResult | undefined;
  /** The result, once the supervisor wrote it (or died without). Does not wait for the logs. */
  private readonly ending: Promise<ExecResult>;
  private readonly result: Promise<ExecResult>;
  private resolveLogsDone!: () => void;
  private readonly logsDone = new Promise<void>((resolve) => (this.resolveLogsDone = resolve));
  private logsTaken = false;
  private abortRequested = false;
  private childGone = false;
  private wake: (() => void) | undefined;

  constructor(
    stepRoot: string,
    held: HeldFile,
    private readonly child: ChildProcess | undefined,
    /** Called once cleanup() removed the step's directory. */
    private readonly onCleanup: () => void = () => undefined,
  ) {
    this.leaseId = held.leaseId;
    this.redact = held.redact;
    this.stepRoot = stepRoot;
    this.stateDir = path.join(stepRoot, STATE_DIR_NAME);
    this.outputs = held.outputs;
    this.caches = [...held.caches];
    if (child) {
      const gone = () => {
        this.childGone = true;
        this.wake?.();
      };
      if (child.exitCode !== null || child.signalCode !== null) this.childGone = true;
      child.once('exit', gone);
      child.once('error', gone);
    }
    // Caches go back as soon as the step ends, so the next build of the step can have them at once.
    this.ending = this.watch().then(async (result) => {
      this.ended = result;
      await keepCaches(this.caches.splice(0));
      return result;
    });
    this.result = this.ending.then(async (result) => {
      await this.logsDone;
      return result;
    });
  }

  /** The step's output from its beginning, one piece per record; after a reattach, the same pieces. */
  logs(): AsyncIterable<LogData> {
    if (this.logsTaken) throw new Error('logs() can be consumed only once');
    this.logsTaken = true;
    const records = followRecordFile(stateFile(this.stateDir, 'log'), {
      complete: () => this.ended !== undefined,
    });
    const done = () => this.resolveLogsDone();
    return (async function* () {
      try {
        yield* records;
      } finally {
        done();
      }
    })();
  }

  wait(): Promise<ExecResult> {
    return this.result;
  }

  async abort(graceMs: number, _reason: string): Promise<void> {
    if (this.ended) return;
    this.abortRequested = true;
    // The grace travels in a file; SIGTERM tells the supervisor to read it.
    try {
      writeFileAtomic(stateFile(this.stateDir, 'abort'), JSON.stringify({ graceMs: Math.max(0, graceMs) }));
    } catch {
      // the state dir is gone (cleaned up): nothing to abort
    }
    const pid = this.supervisorPid();
    // On Windows a "signal" terminates the supervisor outright: there it reads abort.json on its own.
    if (process.platform !== 'win32' && pid !== undefined && this.isSupervisorAlive(pid)) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // it just ended
      }
    }
    this.wake?.();
    await this.ending;
  }

  collectOutputs(dir: string, maxBytes: number): Promise<{ name: string; archive: PackedArchive }[]> {
    return packOutputs(path.join(this.stepRoot, 'work'), this.outputs, dir, maxBytes);
  }

  async cleanup(): Promise<void> {
    if (!this.ended) await this.abort(0, 'cleanup');
    await this.ending;
    await rm(this.stepRoot, { recursive: true, force: true });
    this.onCleanup();
  }

  /** SIGKILL to the step's process group (sweep's last word). */
  killGroup(): void {
    killGroupOf(this.stateDir);
  }

  private supervisorPid(): number | undefined {
    return this.child?.pid ?? readNumber(stateFile(this.stateDir, 'pid'));
  }

  private isSupervisorAlive(pid: number): boolean {
    if (this.child) return !this.childGone;
    return supervisorAlive(pid, this.stateDir);
  }

  private async watch(): Promise<ExecResult> {
    let delay = 5;
    for (;;) {
      const result = await readResult(this.stateDir);
      if (result) return result;
      const pid = this.supervisorPid();
      // Without a pid file the agent died between creating the state dir and spawning the supervisor.
      if (pid === undefined || !this.isSupervisorAlive(pid)) {
        const late = await readResult(this.stateDir);
        if (late) return late;
        // Gone without a result (killed, or crashed): nothing may keep running unsupervised.
        killGroupOf(this.stateDir);
        if (this.abortRequested) return { status: 'aborted', exitStatus: -1, error: 'interrupted' };
        return {
          status: 'errored',
          exitStatus: -1,
          error: `the step's supervisor (pid ${pid ?? 'unknown'}) ended without a result`,
        };
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
      delay = Math.min(delay * 2, RESULT_POLL_MAX_MS);
    }
  }
}
