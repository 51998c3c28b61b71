// Where the step host of a work root listens, and what travels on that socket: one JSON message per
// line. The socket lives in `<workRoot>/.host/` (mode 0700, the socket 0600): only the agent's user can
// reach it, since a start request carries the step's environment and so its secrets.
//
// Shared by the step host process, so it imports node only.
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { Socket } from 'node:net';
import type { LaunchSpec, ResultFile } from './state.js';

const HOST_DIR_NAME = '.host';
// sockaddr_un's path is 108 bytes on Linux and 104 on macOS, with its terminating NUL.
const MAX_SOCKET_PATH_BYTES = 103;

export type HostRequest =
  | { id: number; op: 'start'; stateDir: string; launch: LaunchSpec }
  | { id: number; op: 'abort'; stateDir: string }
  /** The agent read the step's log up to `offset` bytes: say 'output' once there is more (or now). */
  | { id: number; op: 'follow'; stateDir: string; offset: number };

export type HostMessage =
  /**
   * The step's process runs (or could not be spawned: its result says so); `receivedAt` (when the host
   * read the request; absent from an older host) and `spawnedAt` Unix ms.
   */
  | { id: number; ok: true; pid: number; spawnedAt: number; receivedAt?: number }
  | { id: number; ok: false; error: string }
  /**
   * Sent to every connected agent once a step's result.json is written, with its content: the agent
   * need not read the file.
   */
  | { op: 'ended'; stateDir: string; result: ResultFile }
  /** The step's log grew past the offset of this agent's last 'follow' (said once per 'follow'). */
  | { op: 'output'; stateDir: string };

export function hostDirOf(workRoot: string): string {
  return path.join(workRoot, HOST_DIR_NAME);
}

/** The host's socket (a named pipe on Windows); throws naming the problem when the path is too long. */
export function socketPathOf(workRoot: string): string {
  if (process.platform === 'win32') {
    const id = createHash('sha256').update(path.resolve(workRoot).toLowerCase()).digest('hex').slice(0, 24);
    return `\\\\.\\pipe\\outpost-step-host-${id}`;
  }
  const socket = path.join(hostDirOf(workRoot), 'sock');
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH_BYTES)
    throw new Error(
      `work dir ${JSON.stringify(workRoot)} is too long for the step host's socket (${socket}: at most ${MAX_SOCKET_PATH_BYTES} bytes); choose a shorter work_dir`,
    );
  return socket;
}

/** Calls `onMessage` with each JSON line read from `socket`; a line that is not JSON closes it. */
export function readLines(socket: Socket, onMessage: (message: unknown) => void): void {
  let pending = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      let message: unknown;
      try {
        message = JSON.parse(line);
      } catch {
        socket.destroy();
        return;
      }
      onMessage(message);
    }
  });
}

export function writeLine(socket: Socket, message: HostRequest | HostMessage): void {
  if (!socket.destroyed) socket.write(`${JSON.stringify(message)}\n`);
}
