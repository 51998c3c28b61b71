// pods/exec and pods/attach over the Kubernetes websocket channel protocol. Every binary message is
// one channel byte + payload: 0 stdin, 1 stdout, 2 stderr, 3 error (a metav1.Status JSON in v4/v5),
// 4 resize ({"Width","Height"} JSON). v5.channel.k8s.io adds a CLOSE message (255, channel) so a client
// can half-close stdin. Like the real server, the connection opens with an empty message on the
// lowest writable channel, and ends with a Status on channel 3 and a normal close.
import type { ChildProcess } from 'node:child_process';
import type { WebSocket } from 'ws';
import { killGroup, signalExitCode, START_ERROR_EXIT, watchStart } from './runtime.js';

export const SUPPORTED_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];

export const STDIN = 0;
export const STDOUT = 1;
export const STDERR = 2;
export const ERROR = 3;
export const RESIZE = 4;
export const CLOSE = 255;

export interface StreamOptions {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

/** First protocol the client offers that we speak (the client lists its preference order). */
export function chooseProtocol(offered: Set<string>): string | false {
  for (const p of offered) if (SUPPORTED_PROTOCOLS.includes(p)) return p;
  return false;
}

function frame(channel: number, data: Buffer | string): Buffer {
  const payload = typeof data === 'string' ? Buffer.from(data) : data;
  return Buffer.concat([Buffer.from([channel]), payload]);
}

function sendStatus(ws: WebSocket, status: Record<string, unknown>): void {
  if (ws.readyState === ws.OPEN) ws.send(frame(ERROR, JSON.stringify({ metadata: {}, ...status })));
}

function announce(ws: WebSocket, o: StreamOptions): void {
  ws.send(frame(o.stdout ? STDOUT : o.stderr ? STDERR : ERROR, Buffer.alloc(0)));
}

/**
 * Routes client frames: stdin data, v5 CLOSE of stdin, resize (to `resize` when the command has a
 * terminal; ignored otherwise, as a runtime does without a tty).
 */
function onClientFrames(
  ws: WebSocket,
  stdin: (data: Buffer) => void,
  closeStdin: () => void,
  resize?: (payload: Buffer) => void,
): void {
  ws.on('message', (raw: Buffer, isBinary: boolean) => {
    // A connection being dropped (a `cut` fault) delivers nothing more.
    if (ws.readyState !== ws.OPEN) return;
    const data = isBinary ? raw : Buffer.from(raw.toString());
    if (data.length < 1) return;
    const channel = data[0];
    if (channel === STDIN) stdin(data.subarray(1));
    else if (channel === CLOSE && data[1] === STDIN) closeStdin();
    else if (channel === RESIZE) resize?.(data.subarray(1));
  });
}

const isStreamData = (frame: Buffer): boolean => frame.length > 1 && (frame[0] ?? 0xff) <= STDERR;

/**
 * The `cut` fault (server.ts Fault): the connection drops abruptly, as when a proxy or the network
 * between client and API server fails, at the first stdin/stdout/stderr frame that would take the
 * stream data crossed past `afterBytes`. Call before the stream's own listeners are added.
 */
export function cutAfter(ws: WebSocket, afterBytes: number): void {
  let crossed = 0;
  const crosses = (frame: Buffer): boolean => {
    if (!isStreamData(frame)) return false;
    crossed += frame.length - 1;
    return crossed > afterBytes;
  };
  ws.on('message', (raw: Buffer, isBinary: boolean) => {
    if (isBinary && ws.readyState === ws.OPEN && crosses(raw)) ws.terminate();
  });
  // This module sends every frame as one Buffer (frame()).
  const send = ws.send.bind(ws) as (data: Buffer) => void;
  ws.send = ((data: Buffer) => {
    if (ws.readyState !== ws.OPEN) return;
    if (crosses(data)) ws.terminate();
    else send(data);
  }) as typeof ws.send;
}

/** Streams an exec'd process and reports its exit as the real server does (NonZeroExitCode/ExitCode). */
export function serveExec(
  ws: WebSocket,
  proc: ChildProcess,
  o: StreamOptions,
  resize?: (payload: Buffer) => void,
): void {
  announce(ws, o);
  const start = watchStart(proc, () => undefined);
  proc.stdout?.on('data', (d: Buffer) => {
    if (o.stdout && ws.readyState === ws.OPEN) ws.send(frame(STDOUT, d));
  });
  proc.stderr?.on('data', (d: Buffer) => {
    // With a tty, stderr is the same terminal as stdout.
    if (ws.readyState !== ws.OPEN) return;
    if (o.tty && o.stdout) ws.send(frame(STDOUT, d));
    else if (o.stderr) ws.send(frame(STDERR, d));
  });
  onClientFrames(
    ws,
    (d) => proc.stdin?.write(d),
    () => proc.stdin?.end(),
    resize,
  );
  proc.stdin?.on('error', () => undefined);
  proc.on('exit', () => killGroup(proc, 'SIGKILL'));
  ws.on('close', () => killGroup(proc, 'SIGKILL'));
  proc.on('close', (code, signal) => {
    const exitCode = signalExitCode(signal, code);
    const startError = start.error();
    if (code === START_ERROR_EXIT && startError) {
      const message = `Internal error occurred: error executing command in container: ${startError}`;
      sendStatus(ws, {
        status: 'Failure',
        message,
        reason: 'InternalError',
        details: { causes: [{ message }] },
        code: 500,
      });
    } else if (exitCode === 0) sendStatus(ws, { status: 'Success' });
    else {
      sendStatus(ws, {
        status: 'Failure',
        message: `command terminated with non-zero exit code: command terminated with exit code ${exitCode}`,
        reason: 'NonZeroExitCode',
        details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] },
      });
    }
    ws.close(1000);
  });
}

export interface AttachTarget {
  proc: ChildProcess;
  stdinOnce: boolean;
}

/** Attaches to a running container's main process: live output from now on, stdin if it has one. */
export function serveAttach(ws: WebSocket, t: AttachTarget, o: StreamOptions): void {
  announce(ws, o);
  const onOut = (d: Buffer): void => {
    if (o.stdout && ws.readyState === ws.OPEN) ws.send(frame(STDOUT, d));
  };
  const onErr = (d: Buffer): void => {
    if (ws.readyState !== ws.OPEN) return;
    if (o.tty && o.stdout) ws.send(frame(STDOUT, d));
    else if (o.stderr) ws.send(frame(STDERR, d));
  };
  t.proc.stdout?.on('data', onOut);
  t.proc.stderr?.on('data', onErr);
  onClientFrames(
    ws,
    (d) => {
      if (o.stdin) t.proc.stdin?.write(d);
    },
    () => {
      if (t.stdinOnce) t.proc.stdin?.end();
    },
  );
  const onClose = (): void => {
    sendStatus(ws, { status: 'Success' });
    ws.close(1000);
  };
  t.proc.once('close', onClose);
  ws.on('close', () => {
    t.proc.stdout?.off('data', onOut);
    t.proc.stderr?.off('data', onErr);
    t.proc.off('close', onClose);
    if (t.stdinOnce) t.proc.stdin?.end();
  });
}
