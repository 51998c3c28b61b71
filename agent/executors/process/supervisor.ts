// The step supervisor: a small detached Node process per process step that outlives the agent. The
// agent spawns it (`node supervisor.js <stateDir>`) in its own session and process group and writes
// the launch spec (command, env, timeout) on its stdin. The supervisor starts the step as the leader
// of another process group, appends the step's output to `<stateDir>/log` as framed records, ends the
// step on its timeout or when the agent asks (abort.json, then SIGTERM), kills what the step left
// running, and writes the result to `<stateDir>/result.json` (temp + rename) before it exits.
// An agent that restarts finds all of it in the state dir (state.ts) and follows the step from there.
//
// It imports node and its own folder's node-only modules: it runs from dist, or, under tsx, from a
// transpiled copy (supervisor-script.ts).
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { encodeRecordHeader, type RecordStream } from './log-records.js';
import { ProcessGroup, signalExitStatus, type GroupExit } from './process-group.js';
import { stateFile, writeFileAtomic, type LaunchSpec, type ResultFile } from './state.js';

// Descendants left running when the step's main process exits are the step's litter: they get this
// long after SIGTERM before SIGKILL.
const LEFTOVER_GRACE_MS = 1_000;
// A descendant that left the process group (setsid) may hold the output pipes open forever; once the
// step is over and no output arrived for this long, the pipes are closed from our side.
const PIPE_LINGER_MS = 2_000;
// SIGTERM without an abort.json (an operator's kill): the step still gets a grace.
const DEFAULT_ABORT_GRACE_MS = 10_000;
// How often abort.json is looked at, in case the SIGTERM that announces it never arrives.
const ABORT_POLL_MS = 250;

const stateDir = process.argv[2] ?? '';
if (!stateDir) {
  process.stderr.write('usage: supervisor <stateDir>\n');
  process.exit(2);
}

let group: ProcessGroup | undefined;
let ending: { status: 'aborted' | 'failed' | 'errored'; error: string } | undefined;
let abortedBeforeStart = false;
/** Set when the log file cannot be written: the step is stopped and ends errored. */
let logBroken: string | undefined;

// The agent's abort request (abort.json) as last read; a changed one is a new request.
let abortSeen = '';

function readAbort(): string {
  try {
    return readFileSync(stateFile(stateDir, 'abort'), 'utf8');
  } catch {
    return '';
  }
}

function graceOf(text: string): number {
  try {
    const { graceMs } = JSON.parse(text) as { graceMs: unknown };
    return typeof graceMs === 'number' && graceMs >= 0 ? graceMs : DEFAULT_ABORT_GRACE_MS;
  } catch {
    return DEFAULT_ABORT_GRACE_MS;
  }
}

function onAbortSignal(): void {
  abortSeen = readAbort();
  end({ status: 'aborted', error: 'interrupted' }, graceOf(abortSeen));
}

/** Ends the step early (abort or timeout); the first reason stands, a later call only hastens SIGKILL. */
function end(why: { status: 'aborted' | 'failed' | 'errored'; error: string }, graceMs: number): void {
  if (!group) {
    abortedBeforeStart = true;
    return;
  }
  if (!group.leaderEnded && !ending) ending = why;
  void group.terminate(graceMs);
}

// Installed first: an abort may come while the launch spec is still on its way.
process.on('SIGTERM', onAbortSignal);
process.on('SIGINT', onAbortSignal);
process.on('SIGHUP', () => undefined);
// The file alone also counts (a lost signal; Windows, where there is no SIGTERM to catch). A state dir
// that was removed under a running step (an agent's dir deleted, a test's teardown) means nobody can
// ever collect the step: it is stopped.
setInterval(() => {
  if (!existsSync(stateDir)) {
    end({ status: 'aborted', error: 'interrupted' }, LEFTOVER_GRACE_MS);
    return;
  }
  const text = readAbort();
  if (text && text !== abortSeen) {
    abortSeen = text;
    end({ status: 'aborted', error: 'interrupted' }, graceOf(text));
  }
}, ABORT_POLL_MS).unref();

function finish(result: ResultFile): never {
  writeFileAtomic(stateFile(stateDir, 'result'), JSON.stringify(result));
  process.exit(0);
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

async function readStdin(): Promise<string> {
  const parts: Buffer[] = [];
  for await (const part of process.stdin) parts.push(part as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

/** Appends every read of the step's pipes to the log; resolves once both pipes closed. */
function recordOutput(
  logFd: number,
  g: ProcessGroup,
): { closed: Promise<void>; lingerAfterExit: () => void } {
  const sources: [RecordStream, Readable | null][] = [
    ['stdout', g.child.stdout],
    ['stderr', g.child.stderr],
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
      if (logBroken) return;
      try {
        writeSync(logFd, Buffer.concat([encodeRecordHeader(stream, Date.now(), data.length), data]));
      } catch (err) {
        // A full disk, say: a step whose output cannot be kept is stopped, not run on unseen.
        logBroken = `cannot write the step's log: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
        end({ status: 'errored', error: logBroken }, 0);
      }
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

async function main(): Promise<void> {
  writeFileAtomic(stateFile(stateDir, 'pid'), String(process.pid));
  let spec: LaunchSpec;
  try {
    spec = JSON.parse(await readStdin()) as LaunchSpec;
  } catch {
    finish({
      status: 'errored',
      exitStatus: -1,
      error: 'the agent stopped before the step was started',
      notStarted: true,
    });
  }
  if (abortedBeforeStart) finish({ status: 'aborted', exitStatus: -1, error: 'interrupted' });
  const logFd = openSync(stateFile(stateDir, 'log'), 'a', 0o600);

  const g = new ProcessGroup(spec.file, spec.args, {
    cwd: spec.cwd,
    env: spec.env,
    uid: spec.uid,
    gid: spec.gid,
  });
  group = g;
  if (g.pid !== undefined) writeFileAtomic(stateFile(stateDir, 'pgid'), String(g.pid));
  const output = recordOutput(logFd, g);
  const timer =
    spec.timeoutMs > 0
      ? setTimeout(
          () => end({ status: 'failed', error: 'timeout exceeded' }, spec.timeoutGraceMs),
          spec.timeoutMs,
        )
      : undefined;

  const exit: GroupExit = await g.exit;
  clearTimeout(timer);
  if (exit.kind === 'spawn-error') {
    g.child.stdout?.destroy();
    g.child.stderr?.destroy();
    closeSync(logFd);
    finish({ status: 'errored', exitStatus: -1, error: spawnErrorMessage(spec.runPath, exit.error) });
  }
  // The step is over; whatever it left running in its group goes too (an abort's own grace stands).
  if (!g.terminating) await g.terminate(LEFTOVER_GRACE_MS);
  output.lingerAfterExit();
  await output.closed;
  fsyncSync(logFd);
  closeSync(logFd);

  const exitStatus = exit.code ?? (exit.signal ? signalExitStatus(exit.signal) : -1);
  // Re-read: `ending` is set by a signal handler while we awaited.
  const why = currentEnding();
  if (why) finish({ status: why.status, exitStatus, error: why.error });
  if (exit.code === 0) finish({ status: 'succeeded', exitStatus: 0, error: null });
  finish({ status: 'failed', exitStatus, error: exit.signal ? `killed by ${exit.signal}` : null });
}

function currentEnding(): typeof ending {
  return ending;
}

main().catch((err: unknown) => {
  process.stderr.write(`supervisor: ${(err as Error).stack ?? String(err)}\n`);
  try {
    finish({ status: 'errored', exitStatus: -1, error: `step supervisor failed: ${(err as Error).message}` });
  } catch {
    process.exit(1);
  }
});
