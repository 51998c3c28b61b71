// Spawning a step as the leader of its own process group and terminating the whole group: the step's
// grandchildren (`sh -c 'a & b'`) must never outlive it on a shared host.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { preciseNow } from './state.js';

export type GroupExit =
  /** `at`: when the leader's exit was seen (Unix ms). */
  | { kind: 'exited'; code: number | null; signal: NodeJS.Signals | null; at: number }
  | { kind: 'spawn-error'; error: NodeJS.ErrnoException };

// How often a terminating group is checked for remaining members. There is no event for "the last
// grandchild died", so this is a bounded poll (it only runs between SIGTERM and SIGKILL).
const GROUP_POLL_MS = 25;
const isWindows = process.platform === 'win32';

export class ProcessGroup {
  readonly child: ChildProcess;
  /** Settles once: the leader's exit, or the reason it never started. Never rejects. */
  readonly exit: Promise<GroupExit>;
  private exitInfo: GroupExit | undefined;
  private gone = false;
  private deadline = Infinity;
  private killTimer: NodeJS.Timeout | undefined;
  private done = false;
  private terminated: Promise<void> | undefined;
  private resolveTerminated: (() => void) | undefined;

  constructor(
    file: string,
    args: string[],
    opts: { cwd: string; env: Record<string, string>; uid?: number; gid?: number },
  ) {
    this.child = spawn(file, args, {
      cwd: opts.cwd,
      env: opts.env,
      // A pool's run_as: the step drops to that user (libuv also clears supplementary groups).
      ...(opts.uid === undefined ? {} : { uid: opts.uid, gid: opts.gid }),
      // Own process group (POSIX), so kill(-pid) reaches every descendant that did not setsid away.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      windowsHide: true,
    });
    this.exit = new Promise<GroupExit>((resolve) => {
      let spawned = false;
      this.child.once('spawn', () => (spawned = true));
      this.child.on('error', (error: NodeJS.ErrnoException) => {
        // After a successful spawn, 'error' is only about signalling, which we do ourselves.
        if (spawned || this.exitInfo) return;
        this.exitInfo = { kind: 'spawn-error', error };
        this.gone = true;
        resolve(this.exitInfo);
      });
      this.child.once('exit', (code, signal) => {
        this.exitInfo = { kind: 'exited', code, signal, at: preciseNow() };
        resolve(this.exitInfo);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** True once the leader exited or failed to start. */
  get leaderEnded(): boolean {
    return this.exitInfo !== undefined;
  }

  /** True while a terminate() is in progress or done. */
  get terminating(): boolean {
    return this.terminated !== undefined;
  }

  /**
   * SIGTERM to the whole group now, SIGKILL to it after graceMs unless it is gone by then. Repeated
   * calls only ever bring the SIGKILL closer. Resolves when the group is gone or SIGKILL was sent.
   */
  terminate(graceMs: number): Promise<void> {
    const first = this.terminated === undefined;
    this.terminated ??= new Promise<void>((resolve) => (this.resolveTerminated = resolve));
    if (this.done) return this.terminated;
    if (first) this.signal('SIGTERM');
    if (this.gone) {
      this.finish();
      return this.terminated;
    }
    const deadline = Date.now() + Math.max(0, graceMs);
    if (deadline < this.deadline) {
      this.deadline = deadline;
      clearTimeout(this.killTimer);
      this.killTimer = setTimeout(() => this.finish('SIGKILL'), Math.max(0, graceMs));
    }
    if (first) void this.pollUntilGone();
    return this.terminated;
  }

  private async pollUntilGone(): Promise<void> {
    while (!this.done) {
      const state = await this.groupState();
      if (state === 'gone') return this.finish();
      // Only unreaped zombies left (an init that reaps slowly, or never): nothing runs any more. The
      // SIGKILL is harmless to zombies and catches a child forked while /proc was being scanned.
      if (state === 'zombies') return this.finish('SIGKILL');
      await new Promise((resolve) => setTimeout(resolve, GROUP_POLL_MS));
    }
  }

  private finish(sig?: 'SIGKILL'): void {
    if (this.done) return;
    if (sig) this.signal(sig);
    this.done = true;
    clearTimeout(this.killTimer);
    this.resolveTerminated?.();
  }

  private async groupState(): Promise<'gone' | 'zombies' | 'live'> {
    const pgid = this.child.pid;
    if (this.gone || pgid === undefined) return 'gone';
    if (isWindows) return this.exitInfo === undefined ? 'live' : 'gone';
    try {
      process.kill(-pgid, 0);
    } catch (err) {
      // ESRCH: no member left. Remember it, so a later signal can never hit a reused pgid.
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') {
        this.gone = true;
        return 'gone';
      }
      return 'live';
    }
    // The leader itself still runs: no need to look further (a scan of /proc costs a read per process).
    if (this.exitInfo === undefined || process.platform !== 'linux') return 'live';
    const live = await liveGroups();
    return !live || live.has(pgid) ? 'live' : 'zombies';
  }

  private signal(sig: 'SIGTERM' | 'SIGKILL'): void {
    const pid = this.child.pid;
    if (pid === undefined || this.gone) return;
    if (isWindows) {
      // No process groups or SIGTERM on Windows: taskkill /T ends the tree the leader still roots.
      // (Untested on Windows so far.)
      if (this.exitInfo === undefined) {
        spawn('taskkill', ['/T', '/F', '/PID', String(pid)], { stdio: 'ignore', windowsHide: true }).on(
          'error',
          () => undefined,
        );
      }
      return;
    }
    try {
      process.kill(-pid, sig);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') this.gone = true;
    }
  }
}

/** 128 + the signal number, the shell convention for "killed by signal". */
export function signalExitStatus(signal: NodeJS.Signals): number {
  return 128 + ((constants.signals[signal] as number | undefined) ?? 0);
}

let nextScan: Promise<Set<number> | undefined> | undefined;

/**
 * Linux: the process groups with a member that is not a zombie, per /proc. Every caller until the scan
 * begins shares it (it begins on the next turn of the event loop), so a host terminating many steps at
 * once reads /proc once per poll, not once per step; a scan never predates its caller's question.
 * Undefined when /proc cannot be listed (then every group counts as live).
 */
function liveGroups(): Promise<Set<number> | undefined> {
  nextScan ??= new Promise((resolve) =>
    setImmediate(() => {
      nextScan = undefined;
      resolve(scanLiveGroups());
    }),
  );
  return nextScan;
}

async function scanLiveGroups(): Promise<Set<number> | undefined> {
  const live = new Set<number>();
  let names: string[];
  try {
    names = await readdir('/proc');
  } catch {
    return undefined;
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = await readFile(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // "pid (comm) state ppid pgrp ...": comm may contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] !== 'Z' && fields[0] !== 'X') live.add(Number(fields[2]));
  }
  return live;
}
