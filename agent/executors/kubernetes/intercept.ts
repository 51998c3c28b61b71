// `outpost intercept` into a step's pod: an exec into the step's container through the API server
// (pods/exec, which the pool's documented RBAC has for collecting outputs), with a pseudo-terminal
// when the user has one (tty=true; the terminal's size travels on the resize channel, 4). The exec
// runs in the container's working directory with its environment, as the step itself does; a
// container that is no longer running cannot be exec'd into, as the API server says.

import { PassThrough, Writable } from 'node:stream';
import { Exec, type KubeConfig, type V1Status } from '@kubernetes/client-node';
import type { InterceptCommand, StepTerminal, TerminalOutput } from '../executor.js';

/** The user's terminal size as client-node reads it (a stdout with rows/columns that emits 'resize'). */
class TerminalSink extends Writable {
  rows: number;
  columns: number;

  constructor(
    private readonly stream: 'stdout' | 'stderr',
    private readonly output: TerminalOutput,
    size: { rows: number; cols: number },
  ) {
    super();
    this.rows = size.rows;
    this.columns = size.cols;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.output(this.stream, chunk);
    done();
  }
}

/** A shell where the container has one: bash, else sh. */
const DEFAULT_SHELL = ['sh', '-c', 'if command -v bash >/dev/null 2>&1; then exec bash; else exec sh; fi'];

export async function execTerminal(
  kc: KubeConfig,
  where: { namespace: string; pod: string; container: string },
  command: InterceptCommand,
  output: TerminalOutput,
): Promise<StepTerminal> {
  const argv = command.argv.length > 0 ? command.argv : DEFAULT_SHELL;
  const stdin = new PassThrough();
  // Only a tty's stdout carries rows/columns: client-node then sends the size at once and on 'resize'.
  const stdout = command.tty
    ? new TerminalSink('stdout', output, command)
    : new PassThrough().on('data', (d: Buffer) => output('stdout', d));
  const stderr = command.tty ? null : new PassThrough().on('data', (d: Buffer) => output('stderr', d));
  let settle!: (r: { exitStatus: number; error?: string }) => void;
  const exited = new Promise<{ exitStatus: number; error?: string }>((resolve) => (settle = resolve));
  let ws: Awaited<ReturnType<Exec['exec']>>;
  try {
    ws = await new Exec(kc).exec(
      where.namespace,
      where.pod,
      where.container,
      argv,
      stdout,
      stderr,
      stdin,
      command.tty,
      (status: V1Status) => settle(exitOf(status)),
    );
  } catch (err) {
    throw new Error(`cannot exec into the step's pod ${where.pod}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  // Settles only if no Status came first (the connection was lost).
  ws.on('close', () =>
    settle({ exitStatus: -1, error: `the exec into pod ${where.pod} ended without an exit status` }),
  );
  return {
    write: (data) => stdin.write(data),
    closeStdin: () => stdin.end(),
    resize: (rows, cols) => {
      if (!(stdout instanceof TerminalSink)) return;
      stdout.rows = rows;
      stdout.columns = cols;
      stdout.emit('resize');
    },
    kill: () => ws.close(),
    exited,
  };
}

/** The exec's Status: Success is 0, NonZeroExitCode carries the code; anything else did not run. */
function exitOf(status: V1Status): { exitStatus: number; error?: string } {
  if (status.status === 'Success') return { exitStatus: 0 };
  const code = status.details?.causes?.find((c) => c.reason === 'ExitCode')?.message;
  if (status.reason === 'NonZeroExitCode' && code !== undefined && /^\d+$/.test(code))
    return { exitStatus: Number.parseInt(code, 10) };
  return { exitStatus: -1, error: status.message ?? 'the exec failed' };
}
