// The agent's side of the step host (step-host.ts): finds the host of its work root or starts one,
// hands it steps, and hears when they end. The connection is kept while steps run and for a linger
// after the last one ends, so a stream of builds reuses one host; with nobody connected and nothing to
// supervise the host exits on its own.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {
  hostDirOf,
  readLines,
  socketPathOf,
  writeLine,
  type HostMessage,
  type HostRequest,
} from './host-socket.js';
import { preciseNow, stateFile, type LaunchSpec, type ResultFile } from './state.js';
import { stepHostScript } from './step-host-script.js';

// How long a freshly spawned host may take to listen (a loaded machine, a cold Node start).
const HOST_START_TIMEOUT_MS = 15_000;
const RETRY_CONNECT_MS = 10;

/**
 * The host's answer to a start: its pid, and when the request went out, when the host read it (an older host
 * does not say) and when it spawned the step's process (Unix ms).
 */
export interface Started {
  pid: number;
  handedOverAt: number;
  receivedAt?: number;
  spawnedAt: number;
}

type Answer = Omit<Started, 'handedOverAt'>;

/** The connection closed before the host answered. */
class HostGone extends Error {}

/** What the host says of a step unasked. */
type StepEvent = Extract<HostMessage, { op: string }>;

type Pending = { resolve: (answer: Answer) => void; reject: (err: Error) => void };

class Connection {
  readonly closed: Promise<void>;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(
    private readonly socket: net.Socket,
    onStepEvent: (event: StepEvent) => void,
  ) {
    // Requests in flight hold their own promises; the socket must not keep the agent alive.
    socket.unref();
    readLines(socket, (line) => {
      const message = line as HostMessage;
      if ('op' in message) {
        onStepEvent(message);
        return;
      }
      const waiter = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.ok) {
        const { pid, spawnedAt, receivedAt } = message;
        waiter?.resolve({ pid, spawnedAt, ...(receivedAt === undefined ? {} : { receivedAt }) });
      } else waiter?.reject(new Error(message.error));
    });
    this.closed = new Promise((resolve) => {
      socket.on('error', () => undefined);
      socket.on('close', () => {
        for (const waiter of this.pending.values()) waiter.reject(new HostGone('the step host went away'));
        this.pending.clear();
        resolve();
      });
    });
  }

  request(make: (id: number) => HostRequest): Promise<Answer> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      writeLine(this.socket, make(id));
    });
  }

  send(request: HostRequest): void {
    writeLine(this.socket, request);
  }

  close(): void {
    this.socket.end();
  }
}

/** What the host says of one step (see StepHostClient.subscribe). */
export interface StepEvents {
  /**
   * The step ended, with its result; or, without, the connection to the host was lost (whoever waits
   * on the step should look at its state dir now).
   */
  ended(result: ResultFile | undefined): void;
  /** The step's log grew past the offset of the last follow(). */
  output(): void;
}

export class StepHostClient {
  /** The connection, open or opening; `spawns`: opened by a caller that starts a host if none runs. */
  private connection: { opening: Promise<Connection>; spawns: boolean } | undefined;
  private readonly listeners = new Map<string, Set<StepEvents>>();
  private holds = 0;
  private lingerTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly workRoot: string,
    /** How long the connection (and so the host) is kept after the last step ended. */
    private readonly lingerMs: number,
  ) {}

  /** Starts a step under the host (started if none runs); resolves once the step's process runs. */
  async start(stateDir: string, launch: LaunchSpec): Promise<Started> {
    for (let attempt = 1; ; attempt++) {
      const connection = await this.connect(true);
      const handedOverAt = preciseNow();
      try {
        const answer = await connection.request((id) => ({ id, op: 'start', stateDir, launch }));
        return { ...answer, handedOverAt };
      } catch (err) {
        // A host exiting as this agent connected (its last agent had just left, nothing to supervise)
        // goes away without reading the request: then it wrote no pid file, which it does before
        // spawning. Once more with a host started afresh; never when the step may have started.
        if (attempt > 1 || !(err instanceof HostGone) || existsSync(stateFile(stateDir, 'pid'))) throw err;
        await connection.closed;
      }
    }
  }

  /** Asks the host to read the step's abort.json now (it also looks on its own every 250 ms). */
  async abort(stateDir: string): Promise<void> {
    const connection = await this.connect(false).catch(() => undefined);
    connection?.send({ id: 0, op: 'abort', stateDir });
  }

  /** Connects to the host if one runs: what it says of steps taken back after a restart reaches them. */
  attach(): void {
    this.connect(false).catch(() => undefined);
  }

  /**
   * Asks the host to say `output` once the step's log is longer than `offset` bytes (at once if it
   * is). Without a host to ask nothing is said: the reader polls.
   */
  follow(stateDir: string, offset: number): void {
    void this.connect(false).then(
      (connection) => connection.send({ id: 0, op: 'follow', stateDir, offset }),
      () => undefined,
    );
  }

  /** Delivers what the host says of the step to `events` (and the loss of the host). Returns the unsubscribe. */
  subscribe(stateDir: string, events: StepEvents): () => void {
    const key = path.resolve(stateDir);
    let set = this.listeners.get(key);
    if (!set) this.listeners.set(key, (set = new Set()));
    set.add(events);
    return () => {
      set.delete(events);
      if (set.size === 0) this.listeners.delete(key);
    };
  }

  /** Keeps the connection while a step runs; the returned release lets it go (after the linger). */
  hold(): () => void {
    this.holds++;
    clearTimeout(this.lingerTimer);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.holds > 0) return;
      this.lingerTimer = setTimeout(() => {
        const connection = this.connection;
        this.connection = undefined;
        void connection?.opening.then((c) => c.close()).catch(() => undefined);
      }, this.lingerMs);
      this.lingerTimer.unref();
    };
  }

  private connect(spawnIfNone: boolean): Promise<Connection> {
    const current = this.connection;
    if (current && (current.spawns || !spawnIfNone)) return current.opening;
    // One opened without spawning may fail for want of a host: then this caller starts one.
    const opening = current ? current.opening.catch(() => this.open(true)) : this.open(spawnIfNone);
    this.connection = { opening, spawns: spawnIfNone };
    opening.then(
      (connection) =>
        connection.closed.then(() => {
          if (this.connection?.opening === opening) this.connection = undefined;
          for (const set of this.listeners.values()) for (const events of set) events.ended(undefined);
        }),
      () => {
        if (this.connection?.opening === opening) this.connection = undefined;
      },
    );
    return opening;
  }

  private async open(spawnIfNone: boolean): Promise<Connection> {
    const socketPath = socketPathOf(this.workRoot);
    const first = await tryConnect(socketPath);
    if (first instanceof net.Socket) return this.wrap(first);
    if (!spawnIfNone) throw first;
    await this.spawnHost();
    const deadline = Date.now() + HOST_START_TIMEOUT_MS;
    for (;;) {
      const socket = await tryConnect(socketPath);
      if (socket instanceof net.Socket) return this.wrap(socket);
      if (Date.now() > deadline)
        throw new Error(
          `the step host did not start within ${HOST_START_TIMEOUT_MS / 1000} s (${socket.message}); see ${path.join(hostDirOf(this.workRoot), 'host.log')}`,
        );
      await new Promise((resolve) => setTimeout(resolve, RETRY_CONNECT_MS));
    }
  }

  private wrap(socket: net.Socket): Connection {
    return new Connection(socket, (event) => {
      // A host started by an older agent (it outlives upgrades) says 'ended' without the result: the
      // step then reads result.json, as after a lost connection. It answers 'follow' with an error to
      // request 0, which nobody waits for: the reader polls.
      for (const events of this.listeners.get(path.resolve(event.stateDir)) ?? [])
        if (event.op === 'ended') events.ended(event.result);
        else events.output();
    });
  }

  private async spawnHost(): Promise<void> {
    const script = await stepHostScript();
    const dir = hostDirOf(this.workRoot);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const errFd = openSync(path.join(dir, 'host.log'), 'a', 0o600);
    try {
      const child = spawn(process.execPath, [script, this.workRoot], {
        cwd: dir,
        // The host needs nothing from the agent's environment; each step's env comes with its start.
        env: {},
        // Own session and process group: the agent's death (or its terminal's) does not reach it.
        detached: true,
        stdio: ['ignore', 'ignore', errFd],
        windowsHide: true,
      });
      child.on('error', () => undefined); // seen as a host that never listens
      child.unref();
    } finally {
      closeSync(errFd);
    }
  }
}

function tryConnect(socketPath: string): Promise<net.Socket | Error> {
  return new Promise((resolve) => {
    const socket = net.connect(socketPath);
    socket.once('connect', () => {
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err) => resolve(err));
  });
}
