// `outpost intercept` on the agent: runs the command the hub asked for in a step's working directory and
// environment, and carries its terminal over a Tunnel stream the agent opens back to the hub (the hub
// cannot dial agents). A terminal (tty) runs under util-linux `script`, which gives the command a real
// pseudo-terminal without a native module; without one, the command's own pipes are used.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type {
  AgentGatewayClient,
  InterceptRequest,
  TunnelToAgent,
} from '../../proto/gen/outpost/v1/agent.js';
import type { StepShell } from '../executors/executor.js';
import type { HubCallMetadata } from '../session/call-metadata.js';

export type ShellOf = (leaseId: string) => StepShell | string;

/** Opens the Tunnel for `req` and runs its command until it exits or the hub ends the call. */
export function runIntercept(
  client: AgentGatewayClient,
  calls: HubCallMetadata,
  req: InterceptRequest,
  shellOf: ShellOf,
  log: Logger,
): void {
  const call = client.tunnel(calls.forSideCall());
  call.on('error', (err: Error) => log.debug({ err, leaseId: req.leaseId }, 'intercept tunnel ended'));
  call.write({ msg: { $case: 'open', value: { tunnelId: req.tunnelId } } });
  const finish = (exitStatus: number, error = '') => {
    if (call.writableEnded) return;
    call.write({ msg: { $case: 'exit', value: { exitStatus, error } } });
    call.end();
  };

  const shell = shellOf(req.leaseId);
  if (typeof shell === 'string') return finish(-1, shell);
  const argv = req.command.length > 0 ? req.command : [defaultShell(shell.env)];
  let child: ChildProcess;
  try {
    child = req.tty ? underPty(argv, shell, req) : spawnPlain(argv, shell);
  } catch (err) {
    return finish(-1, (err as Error).message);
  }
  log.info({ leaseId: req.leaseId, command: argv[0], tty: req.tty }, 'intercept started');
  child.on('error', (err) => finish(-1, `could not run ${argv[0] ?? ''}: ${err.message}`));
  child.stdout?.on('data', (data: Buffer) => call.write({ msg: { $case: 'stdout', value: data } }));
  child.stderr?.on('data', (data: Buffer) => call.write({ msg: { $case: 'stderr', value: data } }));
  child.on('close', (code, signal) => finish(code ?? 128 + signalNumber(signal)));
  call.on('data', (m: TunnelToAgent) => {
    const msg = m.msg;
    if (msg?.$case === 'stdin') child.stdin?.write(msg.value);
    else if (msg?.$case === 'stdinClosed') child.stdin?.end();
    // A terminal's size is set when it starts; `script` cannot be told of a later change.
  });
  // The user went away: the command goes with them.
  call.on('end', () => kill(child));
  call.on('error', () => kill(child));
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
function underPty(argv: string[], shell: StepShell, req: InterceptRequest): ChildProcess {
  if (process.platform === 'win32') throw new Error('a terminal (tty) is not available on Windows agents');
  const rows = req.size?.rows || 24;
  const cols = req.size?.cols || 80;
  const command = `stty rows ${rows} cols ${cols} 2>/dev/null; exec ${argv.map(quote).join(' ')}`;
  return spawn('script', ['-qfec', command, '/dev/null'], {
    ...asStepUser(shell),
    env: { TERM: 'xterm-256color', ...shell.env },
    detached: true,
    stdio: 'pipe',
  });
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
