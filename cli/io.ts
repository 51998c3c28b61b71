// What the CLI touches of its process. main.ts passes the real process values; tests pass buffers, a
// fixed environment and a fake clock, so nothing here reads `process` directly.

export interface CliWriter {
  /** Text; `intercept` writes the command's raw bytes. */
  write(s: string | Uint8Array): unknown;
}

export interface CliIo {
  stdout: CliWriter;
  stderr: CliWriter;
  /** Read for the set-pipeline confirmation and for `login --token -`. */
  stdin: AsyncIterable<string | Uint8Array>;
  env: Record<string, string | undefined>;
  /** Whether stdout is a terminal: enables colours, bold and dim. */
  isTTY: boolean;
  /** Unix milliseconds; defaults to Date.now (tests pin it for "3s ago"). */
  now?: () => number;
  /**
   * Calls `listener` on every Ctrl-C (SIGINT) or SIGTERM until the returned function is called; while
   * a listener is registered the process does not exit on them. Absent: interrupts are not observed.
   */
  onInterrupt?: (listener: () => void) => () => void;
  /** Stops reading stdin (so the process can exit while nothing more will be read). */
  releaseStdin?: () => void;
  /** The user's terminal, when stdin is one (`intercept` runs the command under a terminal then). */
  terminal?: {
    setRawMode(on: boolean): void;
    size(): { rows: number; cols: number };
    /** Calls `listener` with the new size whenever the terminal is resized (SIGWINCH), until stopped. */
    onResize?(listener: (size: { rows: number; cols: number }) => void): () => void;
  };
}

/** A failure the user can act on: printed as `error: MESSAGE`, never with a stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CliError';
  }
}

/**
 * Reads one line from stdin (without its newline). Returns undefined at end of input with nothing read.
 * Stops reading at the first newline; the rest of stdin is not consumed further.
 */
export async function readLine(stdin: AsyncIterable<string | Uint8Array>): Promise<string | undefined> {
  const decoder = new TextDecoder();
  let buf = '';
  let sawData = false;
  for await (const chunk of stdin) {
    sawData = true;
    buf += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    const nl = buf.indexOf('\n');
    if (nl >= 0) return buf.slice(0, nl).replace(/\r$/, '');
  }
  buf += decoder.decode();
  return sawData || buf !== '' ? buf.replace(/\r$/, '') : undefined;
}

/**
 * Reads a secret the user types: on a terminal after `prompt` (on stderr) without echo, in raw mode
 * (Enter ends it, Backspace erases, Ctrl-C gives up); else the first line of stdin, as scripts pass it
 * (`echo pw | outpost login -u x`). Nothing of what is read is ever written back.
 */
export async function readHidden(io: CliIo, prompt: string): Promise<string | undefined> {
  const terminal = io.terminal;
  if (!terminal) return readLine(io.stdin);
  io.stderr.write(prompt);
  terminal.setRawMode(true);
  try {
    const decoder = new TextDecoder();
    let typed = '';
    for await (const chunk of io.stdin) {
      for (const ch of typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true })) {
        if (ch === '\r' || ch === '\n') return typed;
        if (ch === '\u0003') throw new CliError('interrupted', 130);
        if (ch === '\u007f' || ch === '\b') typed = typed.slice(0, -1);
        else typed += ch;
      }
    }
    return typed === '' ? undefined : typed;
  } finally {
    terminal.setRawMode(false);
    io.stderr.write('\n');
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
