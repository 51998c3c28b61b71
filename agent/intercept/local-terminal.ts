// An intercepting command on this host (process pools): started in the step's working directory with
// its environment. A terminal (tty) runs under util-linux `script`, which gives the command a real
// pseudo-terminal without a native module (resized later with `stty -F` on that terminal); without one,
// the command's own pipes are used.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { InterceptCommand, StepShell, TerminalOutput, StepTerminal } from '../executors/executor.js';

const execFileAsync = promisify(execFile);

/** Starts `command` in `shell`; throws (with a message for the user) when it cannot. */
export function localTerminal(
  shell: StepShell,
  command: InterceptCommand,
  output: TerminalOutput,
): StepTerminal {
  const argv = command.argv.length > 0 ? command.argv : [defaultShell(shell.env)];
  const child = command.tty ? underPty(argv, shell, command) : spawnPlain(argv, shell);
  const exited = new Promise<{ exitStatus: number; error?: string }>((resolve) => {
    child.on('error', (err) =>
      resolve({ exitStatus: -1, error: `could not run ${argv[0] ?? ''}: ${err.message}` }),
    );
    child.on('close', (code, signal) => resolve({ exitStatus: code ?? 128 + signalNumber(signal) }));
  });
  child.stdout?.on('data', (data: Buffer) => output('stdout', data));
  child.stderr?.on('data', (data: Buffer) => output('stderr', data));
  child.stdin?.on('error', () => undefined);
  // One resize after another, so the last size asked for is the one that stays.
  let resizing = Promise.resolve();
  return {
    write: (data) => child.stdin?.write(data),
    closeStdin: () => child.stdin?.end(),
    resize: (rows, cols) => {
      const pid = child.pid;
      if (!command.tty || pid === undefined) return;
      resizing = resizing.then(() => resizePty(pid, rows, cols));
    },
    kill: () => kill(child),
    exited,
  };
}

function spawnPlain(argv: string[], shell: StepShell): ChildProcess {
  const [file, ...args] = argv;
  return spawn(file ?? 'sh', args, { ...asStepUser(shell), env: shell.env, detached: true, stdio: 'pipe' });
}

/** The command runs where the step runs and as the step's user (its pool's run_as), never as the agent. */
function asStepUser(shell: StepShell): { cwd: string; uid?: number; gid?: number } {
  return { cwd: shell.cwd, ...(shell.uid === undefined ? {} : { uid: shell.uid, gid: shell.gid }) };
}

/** The command under `script -qfec`, its terminal sized as the user's. */
function underPty(argv: string[], shell: StepShell, command: InterceptCommand): ChildProcess {
  if (process.platform === 'win32') throw new Error('a terminal (tty) is not available on Windows agents');
  const inner = `stty rows ${command.rows} cols ${command.cols} 2>/dev/null; exec ${argv.map(quote).join(' ')}`;
  return spawn('script', ['-qfec', inner, '/dev/null'], {
    ...asStepUser(shell),
    env: { TERM: 'xterm-256color', ...shell.env },
    detached: true,
    stdio: 'pipe',
  });
}

/**
 * Sizes the pseudo-terminal that `script` (pid `scriptPid`) made for the command: `stty -F` on it sets
 * the size, and the kernel then sends SIGWINCH to the command, as a terminal emulator's resize does.
 * The terminal is found through /proc (Linux); where there is none the size stays as it started.
 */
async function resizePty(scriptPid: number, rows: number, cols: number): Promise<void> {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows <= 0 || cols <= 0) return;
  const tty = await ptyOf(scriptPid);
  if (!tty) return;
  await execFileAsync('stty', ['-F', tty, 'rows', String(rows), 'cols', String(cols)]).catch(() => undefined);
}

/** The terminal of the command `script` runs: its child's stdin, a /dev/pts device (Linux). */
export async function ptyOf(scriptPid: number): Promise<string | undefined> {
  const children = await readFile(`/proc/${scriptPid}/task/${scriptPid}/children`, 'utf8').catch(() => '');
  for (const child of children.trim().split(/\s+/).filter(Boolean)) {
    const stdin = await readlink(`/proc/${child}/fd/0`).catch(() => '');
    if (stdin.startsWith('/dev/pts/')) return stdin;
  }
  return undefined;
}

/** bash where the step's PATH has it, else sh. */
function defaultShell(env: Record<string, string>): string {
  const dirs = (env.PATH ?? '').split(path.delimiter).filter(Boolean);
  return dirs.some((d) => existsSync(path.join(d, 'bash'))) ? 'bash' : 'sh';
}

function quote(arg: string): string {
  return `'${arg.replaceAll("'", "'\\''")}'`;
}

function kill(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGHUP');
  } catch {
    // Already gone.
  }
}

function signalNumber(signal: NodeJS.Signals | null): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
  return (signal && numbers[signal]) ?? 0;
}
