// One process step under the step host (step-host.ts): starts the step as the leader of its own process
// group, appends its output to `<stateDir>/log` as framed records, ends it on its timeout or when the
// agent asks (abort.json), kills what it left running, and writes `<stateDir>/result.json` (temp +
// rename) after the last log record. An agent that restarts finds all of it in the state dir (state.ts).
//
// Runs inside the step host, so it imports node and its own folder's node-only modules.
import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { encodeRecordHeader, type RecordStream } from './log-records.js';
import { ProcessGroup, signalExitStatus } from './process-group.js';
import { preciseNow, stateFile, writeFileAtomic, type LaunchSpec, type ResultFile } from './state.js';

// Descendants left running when the step's main process exits are the step's litter: they get this
// long after SIGTERM before SIGKILL.
const LEFTOVER_GRACE_MS = 1_000;
// A descendant that left the process group (setsid) may hold the output pipes open forever; once the
// step is over and no output arrived for this long, the pipes are closed from our side.
const PIPE_LINGER_MS = 2_000;
// An abort without a readable abort.json (an operator's SIGTERM to the host): the step still gets a grace.
const DEFAULT_ABORT_GRACE_MS = 10_000;

type Ending = { status: 'aborted' | 'failed' | 'errored'; error: string };

function graceOf(text: string): number {
  try {
    const { graceMs } = JSON.parse(text) as { graceMs: unknown };
    return typeof graceMs === 'number' && graceMs >= 0 ? graceMs : DEFAULT_ABORT_GRACE_MS;
  } catch {
    return DEFAULT_ABORT_GRACE_MS;
  }
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

export class StepSupervision {
  /** Settles once result.json is written. Never rejects. */
  readonly done: Promise<ResultFile>;
  /** When the step's process was spawned (Unix ms). */
  readonly spawnedAt: number;
  /** Bytes appended to the log so far. */
  logBytes = 0;
  /** Called after each append to the log. */
  onOutput: () => void = () => undefined;
  private readonly group: ProcessGroup;
  private ending: Ending | undefined;
  /** Set when the log file cannot be written: the step is stopped and ends errored. */
  private logBroken: string | undefined;
  /** The agent's abort request (abort.json) as last read; a changed one is a new request. */
  private abortSeen = '';

  /** Starts the step at once; `stateDir` exists and holds held.json (the agent wrote it). */
  constructor(
    private readonly stateDir: string,
    spec: LaunchSpec,
    hostPid: number,
  ) {
    // Who supervises the step, for an agent that reattaches (it checks that this process still lives).
    writeFileAtomic(stateFile(stateDir, 'pid'), String(hostPid));
    this.group = new ProcessGroup(spec.file, spec.args, {
      cwd: spec.cwd,
      env: spec.env,
      uid: spec.uid,
      gid: spec.gid,
    });
    this.spawnedAt = preciseNow();
    if (this.group.pid !== undefined) writeFileAtomic(stateFile(stateDir, 'pgid'), String(this.group.pid));
    this.done = this.run(spec).catch((err: unknown) =>
      this.finish({
        status: 'errored',
        exitStatus: -1,
        error: `step supervisor failed: ${(err as Error).message}`,
      }),
    );
  }

  /**
   * Looks at the state dir: abort.json new or changed ends the step as aborted with its grace, and a
   * state dir removed under a running step (its agent's dir deleted) means nobody can ever collect it.
   */
  checkAbort(): void {
    const abortFile = stateFile(this.stateDir, 'abort');
    // The host looks at every step four times a second: no exception thrown when nothing is asked.
    if (!existsSync(abortFile)) {
      if (!existsSync(this.stateDir))
        this.end({ status: 'aborted', error: 'interrupted' }, LEFTOVER_GRACE_MS);
      return;
    }
    let text = '';
    try {
      text = readFileSync(abortFile, 'utf8');
    } catch {
      // removed meanwhile: no request
    }
    if (text && text !== this.abortSeen) {
      this.abortSeen = text;
      this.end({ status: 'aborted', error: 'interrupted' }, graceOf(text));
    }
  }

  /** An abort without the agent (the host was told to stop): abort.json's grace if there is one. */
  abortNow(): void {
    this.checkAbort();
    this.end({ status: 'aborted', error: 'interrupted' }, DEFAULT_ABORT_GRACE_MS);
  }

  /** Ends the step early (abort or timeout); the first reason stands, a later call only hastens SIGKILL. */
  private end(why: Ending, graceMs: number): void {
    if (!this.group.leaderEnded && !this.ending) this.ending = why;
    void this.group.terminate(graceMs);
  }

  private finish(result: ResultFile): ResultFile {
    try {
      writeFileAtomic(stateFile(this.stateDir, 'result'), JSON.stringify(result));
    } catch {
      // The state dir is gone: nobody is left to read the result.
    }
    return result;
  }

  private async run(spec: LaunchSpec): Promise<ResultFile> {
    const g = this.group;
    const logFd = openSync(stateFile(this.stateDir, 'log'), 'a', 0o600);
    const output = this.recordOutput(logFd);
    const timer =
      spec.timeoutMs > 0
        ? setTimeout(
            () => this.end({ status: 'failed', error: 'timeout exceeded' }, spec.timeoutGraceMs),
            spec.timeoutMs,
          )
        : undefined;

    const exit = await g.exit;
    clearTimeout(timer);
    if (exit.kind === 'spawn-error') {
      g.child.stdout?.destroy();
      g.child.stderr?.destroy();
      closeSync(logFd);
      return this.finish({
        status: 'errored',
        exitStatus: -1,
        error: spawnErrorMessage(spec.runPath, exit.error),
      });
    }
    // The step is over; whatever it left running in its group goes too (an abort's own grace stands).
    if (!g.terminating) await g.terminate(LEFTOVER_GRACE_MS);
    output.lingerAfterExit();
    await output.closed;
    closeSync(logFd);

    const exitStatus = exit.code ?? (exit.signal ? signalExitStatus(exit.signal) : -1);
    const exitedAt = exit.at;
    const why = this.ending;
    if (why) return this.finish({ status: why.status, exitStatus, error: why.error, exitedAt });
    if (exit.code === 0) return this.finish({ status: 'succeeded', exitStatus: 0, error: null, exitedAt });
    return this.finish({
      status: 'failed',
      exitStatus,
      error: exit.signal ? `killed by ${exit.signal}` : null,
      exitedAt,
    });
  }

  /** Appends every read of the step's pipes to the log; `closed` resolves once both pipes closed. */
  private recordOutput(logFd: number): { closed: Promise<void>; lingerAfterExit: () => void } {
    const sources: [RecordStream, Readable | null][] = [
      ['stdout', this.group.child.stdout],
      ['stderr', this.group.child.stderr],
    ];
    let open = 0;
    let arrivals = 0;
    let resolveClosed!: () => void;
    const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
    for (const [stream, readable] of sources) {
      if (!readable) continue;
      open++;
      let done = false;
      const onClose = () => {
        if (done) return;
        done = true;
        if (--open === 0) resolveClosed();
      };
      readable.on('data', (data: Buffer) => {
        arrivals++;
        // Synchronous: records land in arrival order, and a slow disk slows the step, never our memory.
        if (this.logBroken) return;
        try {
          const record = Buffer.concat([encodeRecordHeader(stream, Date.now(), data.length), data]);
          writeSync(logFd, record);
          this.logBytes += record.length;
        } catch (err) {
          // A full disk, say: a step whose output cannot be kept is stopped, not run on unseen.
          this.logBroken = `cannot write the step's log: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
          this.end({ status: 'errored', error: this.logBroken }, 0);
          return;
        }
        this.onOutput();
      });
      readable.on('error', onClose);
      readable.on('close', onClose);
    }
    if (open === 0) resolveClosed();
    const lingerAfterExit = () => {
      let seen = arrivals;
      const timer = setInterval(() => {
        if (arrivals !== seen) {
          seen = arrivals;
          return;
        }
        clearInterval(timer);
        for (const [, readable] of sources) readable?.destroy();
      }, PIPE_LINGER_MS);
      void closed.then(() => clearInterval(timer));
    };
    return { closed, lingerAfterExit };
  }
}
