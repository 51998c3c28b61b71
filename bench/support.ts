// Helpers shared by the measurements: an in-process hub, the hub's HTTP API, build event streams,
// pipelines and small async utilities. Everything talks to 127.0.0.1 only.

import { fork, type Serializable } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';
import { DEFAULT_HUB_OPTIONS, startHub, type RunningHub } from '../hub/hub.js';
import { postgresUnavailable, startTestPostgres, type TestPostgres } from '../test/support/postgres.js';

export const silentLogger = (): Logger => pino({ level: process.env.OUTPOST_BENCH_LOG_LEVEL ?? 'silent' });

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Rejects with `what` when `promise` takes longer than `ms`: a stuck benchmark must not hang the run. */
export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A promise with its resolve function, for events that arrive on callbacks. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** The hub's HTTP API with one bearer token. */
export class HubApi {
  constructor(
    readonly url: string,
    readonly token: string,
  ) {}

  async call(method: string, route: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    const res = await fetch(`${this.url}/api/v1${route}`, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
  }

  async setPipeline(name: string, source: string): Promise<void> {
    const res = await this.call('PUT', `/teams/main/pipelines/${name}/config`, {
      source,
      file: `${name}.yml`,
    });
    if (res.status !== 200)
      throw new Error(`set-pipeline ${name}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
    // A new pipeline starts paused (as with `fly set-pipeline`); the measurements want it running.
    const unpaused = await this.call('PUT', `/teams/main/pipelines/${name}/unpause`);
    if (unpaused.status !== 204) throw new Error(`unpause ${name}: HTTP ${unpaused.status}`);
  }

  async trigger(pipeline: string, job: string): Promise<number> {
    const res = await this.call('POST', `/teams/main/pipelines/${pipeline}/jobs/${job}/builds`);
    if (res.status !== 201)
      throw new Error(`trigger ${pipeline}/${job}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
    return (res.body as { id: number }).id;
  }

  async createAgentToken(name: string): Promise<string> {
    const res = await this.call('POST', '/agent-tokens', { name });
    if (res.status !== 201) throw new Error(`agent token: HTTP ${res.status} ${JSON.stringify(res.body)}`);
    return (res.body as { token: string }).token;
  }

  async connectedAgents(): Promise<number> {
    const res = await this.call('GET', '/agents');
    return (res.body as { state: string }[]).filter((a) => a.state === 'connected').length;
  }

  /** Opens a build's SSE stream (Concourse envelope; replays from the start, ends with `event: end`). */
  async events(buildId: number): Promise<ReadableStreamDefaultReader<Uint8Array>> {
    const res = await fetch(`${this.url}/api/v1/builds/${buildId}/events`, {
      headers: { authorization: `Bearer ${this.token}` },
    });
    if (res.status !== 200 || !res.body) throw new Error(`events of build ${buildId}: HTTP ${res.status}`);
    return res.body.getReader() as ReadableStreamDefaultReader<Uint8Array>;
  }
}

/** Waits until the hub lists `count` connected agents. */
export async function waitForAgents(api: HubApi, count: number, timeoutMs: number): Promise<void> {
  await within(
    timeoutMs,
    `${count} agents listed as connected`,
    (async () => {
      while ((await api.connectedAgents()) < count) await sleep(100);
    })(),
  );
}

/** Reads an SSE stream until `text` appears; resolves false if the stream ended first. */
export async function readUntil(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  text: string,
): Promise<boolean> {
  const decoder = new TextDecoder();
  // Keep only a tail long enough to catch `text` split across reads.
  let tail = '';
  for (;;) {
    const chunk = await reader.read();
    if (chunk.done) return false;
    tail += decoder.decode(chunk.value, { stream: true });
    if (tail.includes(text)) return true;
    tail = tail.slice(-text.length);
  }
}

/**
 * Splits an SSE byte stream into blocks (the bytes between blank lines). Only each new piece is
 * scanned, and natively: an event of a few hundred KB arrives in many reads, and rescanning a growing
 * buffer on every read would cost more CPU than the hub spends sending it.
 */
export class SseByteBlocks {
  private pending: Buffer[] = [];

  push(bytes: Uint8Array): Buffer[] {
    const piece = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    const out: Buffer[] = [];
    let start = 0;
    // A "\n\n" split across two reads.
    const last = this.pending.at(-1);
    if (last !== undefined && last[last.length - 1] === 0x0a && piece[0] === 0x0a) {
      out.push(Buffer.concat(this.pending).subarray(0, -1));
      this.pending = [];
      start = 1;
    }
    for (
      let end = piece.indexOf('\n\n', start);
      end >= 0;
      start = end + 2, end = piece.indexOf('\n\n', start)
    ) {
      this.pending.push(piece.subarray(start, end));
      out.push(this.pending.length === 1 ? (this.pending[0] as Buffer) : Buffer.concat(this.pending));
      this.pending = [];
    }
    if (start < piece.length) this.pending.push(piece.subarray(start));
    return out;
  }
}

/** The SSE data line of a build's final successful status. */
export const SUCCEEDED_EVENT = '"event":"status","version":"1.0","data":{"status":"succeeded"';

/** A pipeline with one job of `steps` sequential tasks, each running `path args...`. */
export function taskPipeline(job: string, steps: number, path = 'true', args: string[] = []): string {
  const tasks = Array.from(
    { length: steps },
    (_, i) => `  - task: step-${i + 1}
    config:
      platform: linux
      run:
        path: ${JSON.stringify(path)}
        args: ${JSON.stringify(args)}
`,
  );
  return `jobs:\n- name: ${job}\n  plan:\n${tasks.join('')}`;
}

export interface InProcessHub {
  hub: RunningHub;
  api: HubApi;
  agentToken: string;
  grpcAddress: string;
  close: () => Promise<void>;
}

/**
 * Which store a measurement's hub uses. `file` is what users run: a data directory on disk, opened by
 * the same code as `outpost-hub --data-dir` (hub/store/sqlite.ts: WAL, synchronous=NORMAL, the data-dir
 * lock). `postgres` is what replicas run: a fresh local PostgreSQL with its durable defaults (fsync and
 * synchronous commit on), over its unix socket, one hub. `memory` (SQLite `:memory:`) stays only for
 * extra, labelled rows.
 */
export type BenchStore = 'file' | 'postgres' | 'memory';

export const STORE_LABELS: Record<BenchStore, string> = {
  file: 'sqlite-file-wal-normal',
  postgres: 'postgresql-durable-unix-socket',
  memory: 'sqlite-memory',
};

/** Why the bench cannot measure on PostgreSQL here, or undefined when it can. */
export const postgresMissing = postgresUnavailable;

/** A hub in this process: plaintext gRPC and HTTP on ephemeral loopback ports, in a fresh temp data dir. */
export async function startInProcessHub(store: BenchStore = 'file'): Promise<InProcessHub> {
  // A fresh directory per hub: the hub holds an exclusive lock on its data directory.
  const dir = store === 'memory' ? undefined : await mkdtemp(path.join(os.tmpdir(), 'outpost-bench-hub-'));
  let pg: TestPostgres | undefined;
  const removeDir = async () => {
    await pg?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  };
  let hub: RunningHub;
  try {
    let databaseUrl: string | undefined;
    if (store === 'postgres') {
      pg = await startTestPostgres({ durable: true });
      databaseUrl = await pg.createDatabase('outpost_bench');
    }
    hub = await startHub(
      {
        ...DEFAULT_HUB_OPTIONS,
        dataDir: dir,
        databaseUrl,
        tls: undefined,
        httpListen: { host: '127.0.0.1', port: 0 },
        grpcListen: '127.0.0.1:0',
      },
      silentLogger(),
    );
    await hub.leading;
  } catch (err) {
    await removeDir();
    throw err;
  }
  const close = async () => {
    await hub.close();
    await removeDir();
  };
  if (!hub.initialAdminToken) {
    await close();
    throw new Error('a fresh hub gave no admin token');
  }
  const { secret } = await hub.tokens.create('agent', 'bench', null);
  return {
    hub,
    api: new HubApi(hub.url, hub.initialAdminToken),
    agentToken: secret,
    grpcAddress: `127.0.0.1:${hub.grpcPort}`,
    close,
  };
}

/**
 * Resolves once the hub has started every build the scheduler can start and finished them all. The
 * engine alone is not enough: a trigger's scheduling pass may still run after the HTTP answer (on
 * PostgreSQL every query of the pass is a round trip), and until it starts the build the engine is idle.
 */
export async function buildsSettled(hub: RunningHub): Promise<void> {
  await hub.scheduler.idle();
  await hub.engine.idle();
}

/** Resident set size of a process in MB, from /proc (Linux). */
export async function rssMb(pid: number | 'self', field: 'VmRSS' | 'VmHWM' = 'VmRSS'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  if (!match?.[1]) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]) / 1024;
}

/**
 * Milliseconds on a clock every process on this host shares (the wall clock at the process's start plus
 * its monotonic time since): for a mark taken in one process and compared with one taken in another.
 */
export const sharedClockMs = (): number => performance.timeOrigin + performance.now();

/** A bench script forked as a process of its own (TypeScript through tsx), one request at a time over IPC. */
export interface BenchChild<Req, Rep> {
  pid: number;
  /** The child's first message (it says it is ready). */
  ready: Promise<Rep>;
  /** Sends `request` and resolves with the child's next message. */
  ask(request: Req): Promise<Rep>;
  /** Sends `closing` (the child disconnects and exits) and waits for its exit; SIGKILL after 5 s. */
  close(closing: Req): Promise<void>;
}

/** Forks `script` (a path next to this file) with `config` as its JSON argument. */
export function forkBenchChild<Req, Rep>(script: string, config: unknown): BenchChild<Req, Rep> {
  const file = path.join(path.dirname(fileURLToPath(import.meta.url)), script);
  const child = fork(file, [JSON.stringify(config)], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`${script} exited (code ${code})`))),
  );
  exited.catch(() => undefined);
  const next = () =>
    Promise.race([new Promise<Rep>((resolve) => child.once('message', (m: Rep) => resolve(m))), exited]);
  return {
    pid: child.pid ?? 0,
    ready: next(),
    ask(request) {
      const answer = next();
      child.send(request as Serializable);
      return answer;
    },
    close(closing) {
      if (child.connected) child.send(closing as Serializable);
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      return exited.catch(() => clearTimeout(timer));
    },
  };
}

/** A process's CPU time (user + system) in seconds, from /proc; NaN where there is no /proc. */
export async function cpuSeconds(pid: number): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/** The CPU seconds of several processes together (replicas, agent swarms). */
export async function totalCpuSeconds(pids: number[]): Promise<number> {
  return (await Promise.all(pids.map(cpuSeconds))).reduce((a, b) => a + b, 0);
}
