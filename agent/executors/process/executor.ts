// The process executor: runs a step as a host process (macOS/Windows build boxes, local dev) in a
// fresh work dir. Every step of the agent runs under its step host (step-host.ts), one small detached
// Node process per work root that outlives the agent: it owns each step's process group, writes its
// output to a record file and its result to a file in the step's state dir (state.ts). The agent only
// reads those files, so a restarted agent reattaches to its steps (listHeld/reattach) and replays their
// logs from disk.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
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
  type StepShell,
} from '../executor.js';
import { keepCaches, placeCaches, type PlacedCache } from './caches.js';
import { chrooted, chrootProblem, copyRootfs } from './chroot.js';
import { followRecordFile } from './log-stream.js';
import { STATE_DIR_NAME, stateFile, writeFileAtomic, type LaunchSpec, type ResultFile } from './state.js';
import { StepHostClient, type Started } from './step-host-client.js';
import { packOutputs, StepPathError } from '../../artifacts/step-dirs.js';
import { createWorkDir, materialize, planLayout, stepRootOf } from './workdir.js';
import { handOver, type StepUser } from './run-as.js';

export interface ProcessExecutorOptions {
  /** Parent of every step's directory (`<workRoot>/<leaseId>`). */
  workRoot: string;
  /** The environment every step starts from; default: PATH, HOME, LANG of the agent (+ Windows essentials). */
  baseEnv?: Record<string, string>;
  /** SIGTERM -> SIGKILL grace when a step's timeout elapses; default 10 s. */
  timeoutGraceMs?: number;
  /**
   * How long the step host is kept after the agent's last step ended (a stream of builds reuses it);
   * default 60 s. The host exits once nothing holds it.
   */
  hostLingerMs?: number;
  /** The pool's `run_as`, checked at agent start (run-as.ts); unset: steps run as the agent's user. */
  runAs?: StepUser;
}

const DEFAULT_TIMEOUT_GRACE_MS = 10_000;
const DEFAULT_HOST_LINGER_MS = 60_000;
// How often the agent looks for a step's result, and at its log, while it runs: only in case a word of
// the host is lost. The host says when a step ended and when its log grew (after a `follow`), and the
// loss of the connection to it wakes every step, so a step costs the agent nothing while it runs
// quietly: 500 steps polling every 100-200 ms used to keep a core busy.
const RESULT_POLL_MS = 1_000;
const LOG_POLL_MS = 1_000;
// sweep(): how long a swept step gets to stop before its group is killed.
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
  private readonly host: StepHostClient;
  private readonly runAs: StepUser | undefined;
  /** Leases this executor object started or reattached: sweep() never touches them. */
  private readonly owned = new Set<string>();

  constructor(opts: ProcessExecutorOptions) {
    this.workRoot = path.resolve(opts.workRoot);
    this.baseEnv = { ...(opts.baseEnv ?? defaultBaseEnv()) };
    this.timeoutGraceMs = opts.timeoutGraceMs ?? DEFAULT_TIMEOUT_GRACE_MS;
    this.host = new StepHostClient(this.workRoot, opts.hostLingerMs ?? DEFAULT_HOST_LINGER_MS);
    this.runAs = opts.runAs;
  }

  async start(step: ExecStep): Promise<RunningStep> {
    // Up to the request to the step host, a step without inputs, caches or run_as awaits no I/O: its
    // directories and held.json are a few small synchronous calls (tens of microseconds each), where
    // each await of the thread pool let whatever else the event loop held (the hub's Accepted in the
    // bench, other steps' logs) run first: 1.9 ms of the start alone, 12.8 ms beside the bench's hub
    // (docs/performance.md, session 8).
    // Rejects (agent-side bug) on a bad lease id or a reused work dir.
    const workDir = createWorkDir(this.workRoot, step.leaseId);
    this.owned.add(step.leaseId);
    const forget = () => this.owned.delete(step.leaseId);
    const never = (error: string) =>
      new ErroredStep(step.leaseId, error, async () => {
        await rm(stepRootOf(workDir), { recursive: true, force: true });
        forget();
      });

    const userProblem = checkUser(step.run.user, this.runAs);
    if (userProblem) return never(userProblem);
    if (step.run.path === '') return never('run.path: must not be empty');
    const imageProblem = step.rootfs === undefined ? undefined : chrootProblem();
    if (imageProblem) return never(imageProblem);
    let layout;
    let caches: PlacedCache[];
    try {
      layout = planLayout(workDir, step);
      materialize(layout, step.run.dir);
      for (const input of step.inputs) {
        if (input.archive) await unpack(input.archive, path.join(workDir, input.path));
      }
      caches = await placeCaches(workDir, step.caches ?? [], [
        ...step.inputs.map((i) => i.path),
        ...step.outputs.map((o) => o.path),
      ]);
      if (this.runAs) await handOver(stepRootOf(workDir), [workDir, layout.tmpDir], this.runAs);
    } catch (err) {
      if (err instanceof StepPathError) return never(err.message);
      if (err instanceof ArchiveError) return never(`input: ${err.message}`);
      throw err;
    }

    const env = {
      ...this.baseEnv,
      // The agent's home is not the step user's to write (nor read): its private tmp dir stands in.
      ...(this.runAs ? { HOME: layout.tmpDir } : {}),
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
    mkdirSync(stateDir, { mode: 0o700 });
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
    writeFileSync(stateFile(stateDir, 'held'), JSON.stringify(held), { mode: 0o600 });
    let launch: LaunchSpec = {
      file,
      args: step.run.args,
      cwd: layout.runDir,
      env,
      runPath: step.run.path,
      timeoutMs: step.timeoutMs,
      timeoutGraceMs: this.timeoutGraceMs,
      ...(this.runAs ? { uid: this.runAs.uid, gid: this.runAs.gid } : {}),
    };
    if (step.rootfs !== undefined)
      launch = chrooted(launch, copyRootfs(step.rootfs, stepRoot), [workDir, layout.tmpDir]);
    const release = this.host.hold();
    let started: Started;
    try {
      started = await this.host.start(stateDir, launch);
    } catch (err) {
      release();
      return never(`the step could not be started: ${(err as Error).message}`);
    }
    const running = new ProcessStep(stepRoot, held, this.host, forget, release);
    running.handedOverAt = started.handedOverAt;
    running.receivedAt = started.receivedAt;
    running.spawnedAt = started.spawnedAt;
    // An intercepting shell runs on the host: only for steps that run there too.
    if (step.rootfs === undefined)
      running.shell = {
        cwd: layout.runDir,
        env,
        ...(this.runAs ? { uid: this.runAs.uid, gid: this.runAs.gid } : {}),
      };
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
      if (held?.leaseId === name && !neverStarted(path.join(stepRoot, STATE_DIR_NAME))) leases.push(name);
    }
    return leases;
  }

  reattach(leaseId: string): Promise<RunningStep | undefined> {
    const stepRoot = path.join(this.workRoot, leaseId);
    const held = readHeld(stepRoot);
    if (held?.leaseId !== leaseId) return Promise.resolve(undefined);
    this.owned.add(leaseId);
    // What the host says of the step (its end, its output) reaches only a connected agent.
    this.host.attach();
    const step = new ProcessStep(
      stepRoot,
      held,
      this.host,
      () => this.owned.delete(leaseId),
      this.host.hold(),
    );
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
        const step = new ProcessStep(stepRoot, held, this.host);
        await Promise.race([step.abort(0, 'swept'), sleep(SWEEP_WAIT_MS)]);
        step.killGroup();
        await keepCaches(held.caches);
      } else {
        // Crashed between creating the directory and starting the step, or a step whose held.json is
        // unreadable: stop whatever runs there before deleting it (the host notices its dir is gone).
        killGroupOf(path.join(stepRoot, STATE_DIR_NAME));
      }
      await rm(stepRoot, { recursive: true, force: true });
    }
  }

  private async stepDirs(): Promise<string[]> {
    const entries = await readdir(this.workRoot, { withFileTypes: true }).catch(() => []);
    return entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name);
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

/**
 * Whether the step's process never started: the host never took it (no pid file: the agent died
 * before its start request was answered), or took it and died before recording its process group.
 */
function neverStarted(stateDir: string): boolean {
  if (readNumber(stateFile(stateDir, 'pgid')) !== undefined) return false;
  const pid = readNumber(stateFile(stateDir, 'pid'));
  return pid === undefined || !hostAlive(pid, path.dirname(path.dirname(stateDir)));
}

function readResult(stateDir: string): ResultFile | undefined {
  let text: string;
  try {
    text = readFileSync(stateFile(stateDir, 'result'), 'utf8');
  } catch {
    return undefined;
  }
  return JSON.parse(text) as ResultFile;
}

/** Whether `pid` is a live (not zombie) step host of `workRoot`; guards against a reused pid. */
function hostAlive(pid: number, workRoot: string): boolean {
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
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(workRoot);
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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// A step's own `run.user` cannot choose who it runs as (the pool's run_as does): a step asking for
// another user must not silently run as someone else.
function checkUser(user: string, runAs: StepUser | undefined): string | undefined {
  if (user === '') return undefined;
  let current: string;
  if (runAs) current = runAs.name;
  else {
    try {
      current = os.userInfo().username;
    } catch {
      current = '';
    }
  }
  if (user === current) return undefined;
  const who = runAs ? "the pool's run_as user" : "the agent's user";
  return `run.user ${JSON.stringify(user)}: the process executor runs steps as ${who} (${JSON.stringify(current)}) and cannot switch users per step`;
}

/**
 * A step under the step host: started by this agent process or by an earlier one (reattached).
 * Everything it knows comes from the state dir.
 */
export class ProcessStep implements RunningStep {
  readonly leaseId: string;
  readonly redact: readonly string[];
  /** Set on a reattached resource step from an image (see executor.ts). */
  resumedResource: HeldResource | undefined;
  /** Set on a step this agent process started (a reattached one has lost its environment). */
  shell: StepShell | undefined;
  /**
   * Set on a step this agent process started: when it went to the host, when the host read it (an older host
   * does not say) and when it spawned its process (Unix ms).
   */
  handedOverAt: number | undefined;
  receivedAt: number | undefined;
  spawnedAt: number | undefined;
  /** When the step's process ended (Unix ms), once it did and the host said so. */
  exitedAt: number | undefined;
  private readonly stepRoot: string;
  private readonly stateDir: string;
  private readonly outputs: ExecStep['outputs'];
  private readonly caches: PlacedCache[];
  private ended: ExecResult | undefined;
  /** The result, once the host wrote it (or died without). Does not wait for the logs. */
  private readonly ending: Promise<ExecResult>;
  private readonly result: Promise<ExecResult>;
  private resolveLogsDone!: () => void;
  private readonly logsDone = new Promise<void>((resolve) => (this.resolveLogsDone = resolve));
  private logsTaken = false;
  private abortRequested = false;
  /** The result as the host said it (the agent need not read result.json then). */
  private said: ResultFile | undefined;
  /** Wakes watch() waiting for its next look. */
  private wake: (() => void) | undefined;
  /** Wakes the log reader waiting at the end of the log. */
  private logWake: (() => void) | undefined;
  /** The offset the host was last asked to follow and has not answered: not asked again at each poll. */
  private following: number | undefined;

  constructor(
    stepRoot: string,
    held: HeldFile,
    private readonly host: StepHostClient,
    /** Called once cleanup() removed the step's directory. */
    private readonly onCleanup: () => void = () => undefined,
    /** Lets the host connection go once the step ended. */
    release: () => void = () => undefined,
  ) {
    this.leaseId = held.leaseId;
    this.redact = held.redact;
    this.stepRoot = stepRoot;
    this.stateDir = path.join(stepRoot, STATE_DIR_NAME);
    this.outputs = held.outputs;
    this.caches = [...held.caches];
    const unsubscribe = host.subscribe(this.stateDir, {
      ended: (result) => {
        this.said ??= result;
        // Without a result the connection was lost, and the host's follow with it.
        this.following = undefined;
        this.wake?.();
        this.logWake?.();
      },
      output: () => {
        this.following = undefined;
        this.logWake?.();
      },
    });
    // Caches go back as soon as the step ends, so the next build of the step can have them at once.
    this.ending = this.watch().then(async (file) => {
      const result: ExecResult = {
        status: file.status,
        exitStatus: file.exitStatus,
        error: file.error ?? undefined,
      };
      this.exitedAt = file.exitedAt;
      this.ended = result;
      this.logWake?.();
      unsubscribe();
      release();
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
      changed: (offset) => this.logChanged(offset),
      maxPollMs: LOG_POLL_MS,
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
    // The grace travels in a file (durable across an agent restart); the message tells the host to
    // read it now rather than at its next look.
    try {
      writeFileAtomic(stateFile(this.stateDir, 'abort'), JSON.stringify({ graceMs: Math.max(0, graceMs) }));
    } catch {
      // the state dir is gone (cleaned up): nothing to abort
    }
    await this.host.abort(this.stateDir);
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

  /** Settles once the log may have grown past `offset` or the step ended (the host says either). */
  private logChanged(offset: number): Promise<void> {
    if (this.ended) return Promise.resolve();
    return new Promise((resolve) => {
      this.logWake = resolve;
      if (this.following === offset) return;
      this.following = offset;
      this.host.follow(this.stateDir, offset);
    });
  }

  private async watch(): Promise<ResultFile> {
    for (;;) {
      // The host's word, else the file (a step that ended while the agent was away, or before it listened).
      const result = this.said ?? readResult(this.stateDir);
      if (result) return result;
      const pid = readNumber(stateFile(this.stateDir, 'pid'));
      // Without a pid file the agent died between creating the state dir and the host's answer.
      if (pid === undefined || !hostAlive(pid, path.dirname(this.stepRoot))) {
        const late = readResult(this.stateDir);
        if (late) return late;
        // Gone without a result (killed, or crashed): nothing may keep running unsupervised.
        killGroupOf(this.stateDir);
        if (this.abortRequested) return { status: 'aborted', exitStatus: -1, error: 'interrupted' };
        return {
          status: 'errored',
          exitStatus: -1,
          error: `the step's supervisor (step host pid ${pid ?? 'unknown'}) ended without a result`,
        };
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, RESULT_POLL_MS);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }
}
