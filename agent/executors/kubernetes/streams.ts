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

function closed(ws: WebSocket.WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    if (ws.readyState === ws.CLOSED) return resolve();
    ws.on('close', () => resolve());
    ws.on('error', reject);
  });
}

/**
 * Streams `tarFile` into the stdin of `container` (running `tar -x`); resolves with what it printed on
 * stderr once it took it all (its exit code, in the pod's status, says whether that was an error).
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
  done.catch(() => undefined);
  for await (const chunk of createReadStream(tarFile)) {
    stdin.write(chunk as Buffer);
    // Bounded memory: wait for the socket to drain instead of queueing the whole archive.
    while (ws.bufferedAmount > MAX_BUFFERED && ws.readyState === ws.OPEN)
      await new Promise((resolve) => setTimeout(resolve, 10));
    if (ws.readyState !== ws.OPEN) break;
  }
  stdin.end();
  await done;
  return stderr.text;
}

export class OutputTooLarge extends Error {}

/** The error of a command that did not succeed: its stderr, else the API's words. */
function failure(status: V1Status | undefined, stderr: Tail): Error | undefined {
  if (status?.status === 'Success') return undefined;
  return new Error(stderr.text || status?.message || 'the connection closed before the command ended');
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
  await closed(ws);
  const err = failure(status, stderr);
  if (err) throw err;
}

/**
 * Runs `command` in `container` and writes its stdout to `file`; resolves with what it printed on
 * stderr, rejects with that when it exits non-zero, and with OutputTooLarge past `maxBytes`.
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
  await closed(ws);
  if (!meter.writableEnded) meter.end();
  await finished;
  if (state.tooLarge) throw new OutputTooLarge(`larger than the limit of ${maxBytes} bytes`);
  const err = failure(status, stderr);
  if (err) throw err;
  return stderr.text;
}
