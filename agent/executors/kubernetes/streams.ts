// Moving files in and out of a pod over the API server (the `api` data path, data-path.ts): inputs go
// as one tar on the stdin of the `inputs` init container (pods/attach), outputs come back as the stdout
// of a command run in the `outputs` helper (pods/exec). On the `agent` path only the command that
// pushes them to the agent goes this way (execCommand).
import { createReadStream, createWriteStream } from 'node:fs';
import { PassThrough, Writable } from 'node:stream';
import { Attach, Exec, type KubeConfig, type V1Status } from '@kubernetes/client-node';
import type WebSocket from 'isomorphic-ws';

const MAX_BUFFERED = 4 * 1024 * 1024;
const STDERR_KEEP = 4096;

/** Keeps the last bytes written, for an error message. */
class Tail extends Writable {
  private kept = Buffer.alloc(0);
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.kept = Buffer.concat([this.kept, chunk]).subarray(-STDERR_KEEP);
    done();
  }
  get text(): string {
    return this.kept.toString('utf8').trim();
  }
}

/** Resolves once the socket closed, with the error it closed on, if any. */
function closed(ws: WebSocket.WebSocket): Promise<Error | undefined> {
  return new Promise((resolve) => {
    if (ws.readyState === ws.CLOSED) return resolve(undefined);
    let error: Error | undefined;
    ws.on('error', (err: Error) => (error ??= err));
    ws.on('close', () => resolve(error));
  });
}

/**
 * The connection ended before the command's Status (or before every stdin byte was sent): what
 * crossed it may be incomplete. The caller, who knows what should have arrived, says so in its words.
 */
export class ConnectionCut extends Error {
  override readonly name = 'ConnectionCut';
  constructor(
    /** Stream bytes that crossed before it ended (received from stdout, or written to stdin). */
    readonly bytes: number,
    /** What the command had said on stderr by then. */
    readonly stderr: string,
    cause: Error | undefined,
  ) {
    super(
      `the connection to the pod closed early${cause ? ` (${cause.message})` : ''}`,
      cause ? { cause } : undefined,
    );
  }
}

/**
 * Streams `tarFile` into the stdin of `container` (the inputs helper); resolves with what it printed
 * on stderr once it took it all (its exit code, in the pod's status, says whether that was an error).
 * Rejects with ConnectionCut when the connection ended before every byte was written to it.
 */
export async function sendTar(
  kc: KubeConfig,
  namespace: string,
  pod: string,
  container: string,
  tarFile: string,
): Promise<string> {
  const stdin = new PassThrough();
  const stderr = new Tail();
  const ws = await new Attach(kc).attach(namespace, pod, container, null, stderr, stdin, false);
  const done = closed(ws);
  // A function, not a narrowed property: the socket's state changes while this awaits.
  const open = (): boolean => ws.readyState === ws.OPEN;
  let sent = 0;
  let whole = true;
  for await (const chunk of createReadStream(tarFile)) {
    if (!open()) {
      whole = false;
      break;
    }
    stdin.write(chunk as Buffer);
    sent += (chunk as Buffer).length;
    // Bounded memory: wait for the socket to drain instead of queueing the whole archive.
    while (ws.bufferedAmount > MAX_BUFFERED && open())
      await new Promise((resolve) => setTimeout(resolve, 10));
  }
  stdin.end();
  const error = await done;
  // A drop after the last byte left is for the helper to judge: it checks size and sha256.
  if (!whole) throw new ConnectionCut(sent, stderr.text, error);
  return stderr.text;
}

export class OutputTooLarge extends Error {}

/**
 * The error of a command that did not succeed: ConnectionCut when no Status came (the connection
 * ended first), else its stderr, else the API's words.
 */
function failure(
  status: V1Status | undefined,
  stderr: Tail,
  bytes: number,
  closedOn: Error | undefined,
): Error | undefined {
  if (!status) return new ConnectionCut(bytes, stderr.text, closedOn);
  if (status.status === 'Success') return undefined;
  return new Error(stderr.text || status.message || 'the command failed');
}

/** Runs `command` in `container`, ignoring its stdout; rejects with its stderr when it fails. */
export async function execCommand(
  kc: KubeConfig,
  namespace: string,
  pod: string,
  container: string,
  command: string[],
): Promise<void> {
  const stderr = new Tail();
  let status: V1Status | undefined;
  const ws = await new Exec(kc).exec(namespace, pod, container, command, null, stderr, null, false, (s) => {
    status = s;
  });
  const err = failure(status, stderr, 0, await closed(ws));
  if (err) throw err;
}

/**
 * Runs `command` in `container` and writes its stdout to `file`; resolves with what it printed on
 * stderr, rejects with that when it exits non-zero, with OutputTooLarge past `maxBytes`, and with
 * ConnectionCut when the connection ended before the command did.
 */
export async function execToFile(
  kc: KubeConfig,
  namespace: string,
  pod: string,
  container: string,
  command: string[],
  file: string,
  maxBytes: number,
): Promise<string> {
  const out = createWriteStream(file);
  const finished = new Promise<void>((resolve, reject) => {
    out.on('finish', resolve);
    out.on('error', reject);
  });
  let size = 0;
  // Set from the meter's callbacks, read after the socket closed.
  const state: { tooLarge: boolean; ws: WebSocket.WebSocket | undefined } = {
    tooLarge: false,
    ws: undefined,
  };
  const meter = new Writable({
    write(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > maxBytes) {
        state.tooLarge = true;
        state.ws?.close();
        return done();
      }
      out.write(chunk, () => done());
    },
    final(done) {
      out.end(() => done());
    },
  });
  const stderr = new Tail();
  let status: V1Status | undefined;
  const ws = await new Exec(kc).exec(namespace, pod, container, command, meter, stderr, null, false, (s) => {
    status = s;
  });
  state.ws = ws;
  const closedOn = await closed(ws);
  if (!meter.writableEnded) meter.end();
  await finished;
  if (state.tooLarge) throw new OutputTooLarge(`larger than the limit of ${maxBytes} bytes`);
  const err = failure(status, stderr, size, closedOn);
  if (err) throw err;
  return stderr.text;
}
