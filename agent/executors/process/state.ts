// The state dir of one process step, `<workRoot>/<leaseId>/state/`: everything an agent process needs
// to follow a step it did not start (after a restart), and nothing else.
//
//   held.json     mode 0600, written by the agent before the step starts: lease, run.path, outputs,
//                 the caches placed in the work dir, the redaction list (secrets: only the agent's user
//                 can read it, like the work dir itself), the start time, and for a resource step
//                 from an image its kind, type and response output (never its request). The step's
//                 env is never written: it reaches the step host over its socket.
//   log           the step's stdout/stderr as framed records (log-records.ts), appended by the host
//   pid           the pid of the step host supervising the step, written by the host as it takes it
//   pgid          the step's process group, written by the host once the step is spawned
//   abort.json    {graceMs}: written by the agent (temp + rename) before it tells the host, which then
//                 ends the step as aborted with that grace (the host also looks every 250 ms)
//   result.json   the step's ExecResult, written by the host (temp + rename) after the last log
//                 record: its presence means the log is complete
//
// The host's socket and its own stderr (host.log) are in `<workRoot>/.host/` (host-socket.ts).
//
// Durability: the files are written whole (temp + rename) but never fsynced, so an agent or step host
// process that dies loses nothing written (the kernel has it). A power loss or kernel crash ends every
// step's process anyway; a state dir it leaves torn reads as a step whose supervisor ended without a
// result (errored), as the hub's SQLite store (synchronous = NORMAL) may lose its latest commits then.
// An fsync costs milliseconds, four of them were on every step's path to its start and its end.
// Shared by the step host process, so it imports node only.
import { closeSync, openSync, renameSync, writeSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

export const STATE_DIR_NAME = 'state';

/** Unix ms with its sub-millisecond part, for the times the host reports (comparable across processes). */
export const preciseNow = (): number => performance.timeOrigin + performance.now();
export const FILES = {
  held: 'held.json',
  log: 'log',
  pid: 'pid',
  pgid: 'pgid',
  abort: 'abort.json',
  result: 'result.json',
} as const;

export function stateFile(stateDir: string, name: keyof typeof FILES): string {
  return path.join(stateDir, FILES[name]);
}

/**
 * Writes `text` to `file` atomically: a reader sees the old file, or the whole new one (not fsynced:
 * see the durability note above).
 */
export function writeFileAtomic(file: string, text: string, mode = 0o600): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

/** What the step host gets with a start request: how to start the step. Never written to disk. */
export interface LaunchSpec {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** run.path as the step gave it, for messages. */
  runPath: string;
  /** 0 = none. */
  timeoutMs: number;
  timeoutGraceMs: number;
  /** The pool's run_as user and group the step runs as; unset: the step host's (the agent's) own. */
  uid?: number;
  gid?: number;
}

/** result.json: the ExecResult the step ended with. */
export interface ResultFile {
  status: 'succeeded' | 'failed' | 'errored' | 'aborted';
  exitStatus: number;
  error: string | null;
  /** When the step's main process ended (Unix ms); absent when it never started. */
  exitedAt?: number;
}
