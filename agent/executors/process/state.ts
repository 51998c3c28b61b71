// The supervisor state dir of one process step, `<workRoot>/<leaseId>/state/`: everything an agent
// process needs to follow a step it did not start (after a restart), and nothing else.
//
//   held.json     mode 0600, written by the agent before the supervisor starts: lease, run.path, outputs,
//                 the caches placed in the work dir, the redaction list (secrets: only the agent's user
//                 can read it, like the work dir itself), the start time, and for a resource step
//                 from an image its kind, type and response output (never its request). The step's
//                 env is never written: it reaches the supervisor on its stdin.
//   log           the step's stdout/stderr as framed records (log-records.ts), appended by the supervisor
//   pid           the supervisor's pid, written by the supervisor when it starts (temp + rename)
//   pgid          the step's process group, written by the supervisor once the step is spawned
//   abort.json    {graceMs}: written by the agent (temp + rename) before it sends SIGTERM to the
//                 supervisor, which then ends the step as aborted with that grace
//   result.json   the step's ExecResult, written by the supervisor (temp + rename) after the last log
//                 record: its presence means the log is complete
//   supervisor.log the supervisor's own stderr (its crashes), for operators
//
// Shared by the supervisor process, so it imports node only.
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
import path from 'node:path';

export const STATE_DIR_NAME = 'state';
export const FILES = {
  held: 'held.json',
  log: 'log',
  pid: 'pid',
  pgid: 'pgid',
  abort: 'abort.json',
  result: 'result.json',
  supervisorLog: 'supervisor.log',
} as const;

export function stateFile(stateDir: string, name: keyof typeof FILES): string {
  return path.join(stateDir, FILES[name]);
}

/** Writes `text` to `file` atomically: a reader sees the old file, or the whole new one. */
export function writeFileAtomic(file: string, text: string, mode = 0o600): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

/** What the supervisor reads on its stdin: how to start the step. Never written to disk. */
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
  /** The pool's run_as user and group the step runs as; unset: the supervisor's (the agent's) own. */
  uid?: number;
  gid?: number;
}

/** result.json: the ExecResult the step ended with. */
export interface ResultFile {
  status: 'succeeded' | 'failed' | 'errored' | 'aborted';
  exitStatus: number;
  error: string | null;
  /** The step's process never started: the agent died before handing the supervisor its launch. */
  notStarted?: boolean;
}
