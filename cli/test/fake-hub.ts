// A tiny stand-in for the hub's HTTP API, on 127.0.0.1:0, for the CLI tests. Tests register the few
// routes they exercise; every request is recorded (method, path, query, headers, JSON body).

import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { stringify } from 'yaml';
import type { BuildEventEnvelope } from '../../hub/api/types.js';
import { runCli, type RunCliOptions } from '../main.js';

export const TOKEN = 's3cret';

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingMessage['headers'];
  body: unknown;
}

export interface HubRequest extends RecordedRequest {
  params: Record<string, string>;
}

export type Handler = (req: HubRequest, res: ServerResponse) => void | Promise<void>;

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

export function sendError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  details?: unknown,
): void {
  sendJson(res, status, { error: { code, message, ...(details !== undefined ? { details } : {}) } });
}

export class FakeHub {
  readonly requests: RecordedRequest[] = [];
  private readonly routes: { method: string; re: RegExp; names: string[]; handler: Handler }[] = [];
  private readonly sockets = new Set<Socket>();
  url = '';

  constructor(private readonly server: Server) {
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    server.on('secureConnection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.handle(req, res).catch((err: unknown) => {
        res.destroy(err instanceof Error ? err : new Error(String(err)));
      });
    });
  }

  static async start(tls?: { key: string; cert: string }): Promise<FakeHub> {
    const server = tls ? createHttpsServer(tls) : createHttpServer();
    const hub = new FakeHub(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    hub.url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    return hub;
  }

  /** `pattern` is a path under /api/v1 with `:name` segments, e.g. `/builds/:id/events`. */
  on(method: string, pattern: string, handler: Handler): this {
    const names: string[] = [];
    const re = new RegExp(
      '^/api/v1' +
        pattern.replace(/:([a-zA-Z]+)/g, (_m, name: string) => {
          names.push(name);
          return '([^/]+)';
        }) +
        '$',
    );
    this.routes.push({ method, re, names, handler });
    return this;
  }

  requestsTo(method: string, path: string): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && r.path === path);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', 'http://x');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const recorded: RecordedRequest = {
      method: req.method ?? 'GET',
      path: u.pathname,
      query: Object.fromEntries(u.searchParams),
      headers: req.headers,
      body: text === '' ? undefined : (JSON.parse(text) as unknown),
    };
    this.requests.push(recorded);
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      sendError(res, 401, 'unauthorized', 'invalid or missing token');
      return;
    }
    for (const r of this.routes) {
      if (r.method !== recorded.method) continue;
      const m = r.re.exec(u.pathname);
      if (!m) continue;
      const params: Record<string, string> = {};
      r.names.forEach((n, i) => (params[n] = decodeURIComponent(m[i + 1] ?? '')));
      await r.handler({ ...recorded, params }, res);
      return;
    }
    sendError(res, 404, 'not_found', `no route for ${recorded.method} ${u.pathname}`);
  }
}

/** One SSE frame in the hub's envelope. */
export function sseFrame(id: number, event: string, data: Record<string, unknown>): string {
  const envelope: BuildEventEnvelope = { event, version: '1.0', data };
  return `id: ${id}\nevent: event\ndata: ${JSON.stringify(envelope)}\n\n`;
}

export const SSE_END = 'event: end\ndata: \n\n';

/** Serves `events` (ids 1..n) from after Last-Event-ID, then `end`. */
export function serveEvents(events: [string, Record<string, unknown>][]): Handler {
  return (req, res) => {
    const after = Number(req.headers['last-event-id'] ?? 0);
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    let out = '';
    events.forEach(([event, data], i) => {
      if (i + 1 > after) out += sseFrame(i + 1, event, data);
    });
    res.end(out + SSE_END);
  };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function collector(onWrite?: (s: string) => void): {
  stream: { write(s: string): boolean };
  text: () => string;
} {
  let text = '';
  return {
    stream: {
      write(s: string) {
        text += s;
        onWrite?.(s);
        return true;
      },
    },
    text: () => text,
  };
}

export interface Sandbox {
  dir: string;
  configPath: string;
  env: Record<string, string | undefined>;
  run(
    args: string[],
    opts?: {
      stdin?: string;
      isTTY?: boolean;
      now?: number;
      options?: RunCliOptions;
      /** Sees stdout as it is written (a command that waits for the test to act on what it printed). */
      onStdout?: (s: string) => void;
    },
  ): Promise<RunResult>;
  /** Writes a config with target `default` pointing at `url`. */
  saveTarget(url: string, extra?: Record<string, unknown>): Promise<void>;
  readConfig(): Promise<string>;
}

export async function sandbox(): Promise<Sandbox> {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-cli-'));
  const configPath = join(dir, 'home', '.outpost', 'config.yaml');
  const env = { HOME: join(dir, 'home') };
  return {
    dir,
    configPath,
    env,
    async run(args, opts = {}) {
      const out = collector(opts.onStdout);
      const err = collector();
      const code = await runCli(
        args,
        {
          stdout: out.stream,
          stderr: err.stream,
          stdin: Readable.from(opts.stdin === undefined ? [] : [opts.stdin]),
          env,
          isTTY: opts.isTTY ?? false,
          ...(opts.now !== undefined ? { now: () => opts.now ?? 0 } : {}),
        },
        { client: { reconnectDelayMs: 10 }, ...opts.options },
      );
      return { code, stdout: out.text(), stderr: err.text() };
    },
    async saveTarget(url, extra = {}) {
      await mkdir(join(dir, 'home', '.outpost'), { recursive: true });
      await writeFile(
        configPath,
        stringify({ targets: { default: { url, token: TOKEN, team: 'main', ...extra } } }),
      );
    },
    readConfig() {
      return readFile(configPath, 'utf8');
    },
  };
}
