// Starts real hubs and agents in this process on 127.0.0.1 ephemeral ports, with real gRPC and HTTP
// between them, for integration tests and benchmarks.

import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import { parseAgentConfig } from '../../agent/config.js';
import { startAgent, type RunningAgent } from '../../agent/agent.js';
import { DEFAULT_HUB_OPTIONS, startHub, type HubOptions, type RunningHub } from '../../hub/hub.js';

export function testLogger(): Logger {
  return pino({ level: process.env.OUTPOST_TEST_LOG_LEVEL ?? 'silent' });
}

export interface CapturedLog {
  log: Logger;
  /** Every JSON line logged so far. */
  lines: { msg?: string; [key: string]: unknown }[];
  /** Resolves with the first line (already logged or to come) whose `msg` contains `text`. */
  line(text: string): Promise<{ msg?: string; [key: string]: unknown }>;
}

/** A logger whose lines a test can read and wait for (what an operator would see in the JSON log). */
export function capturingLogger(): CapturedLog {
  const lines: CapturedLog['lines'] = [];
  const waiters = new Set<() => void>();
  const log = pino(
    { level: 'debug' },
    {
      write(chunk: string) {
        lines.push(JSON.parse(chunk) as CapturedLog['lines'][number]);
        for (const w of waiters) w();
      },
    },
  );
  const line: CapturedLog['line'] = (text) =>
    new Promise((resolve) => {
      const check = () => {
        const found = lines.find((l) => l.msg?.includes(text));
        if (!found) return;
        waiters.delete(check);
        resolve(found);
      };
      waiters.add(check);
      check();
    });
  return { log, lines, line };
}

export interface TestHub extends RunningHub {
  adminToken: string;
  dir: string;
  options: HubOptions;
  /** Stops the hub but keeps its data directory (for a restart). */
  stop(): Promise<void>;
  /** Calls the hub API with the admin token. */
  api<T = unknown>(method: string, route: string, body?: unknown): Promise<{ status: number; body: T }>;
  newAgentToken(name?: string, team?: string): Promise<string>;
}

/** Waits until `text` appears in a build's event stream. */
export async function waitForEvents(hub: TestHub, buildId: number, text: string): Promise<void> {
  const stream = await openEventStream(hub, buildId);
  await stream.until(text);
  await stream.cancel();
}

export async function startTestHub(
  overrides: Partial<HubOptions> = {},
  log: Logger = testLogger(),
): Promise<TestHub> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-hub-'));
  const options: HubOptions = {
    ...DEFAULT_HUB_OPTIONS,
    dataDir: dir,
    tls: undefined,
    httpListen: { host: '127.0.0.1', port: 0 },
    grpcListen: '127.0.0.1:0',
    ...overrides,
  };
  const hub = await startHub(options, log);
  // On PostgreSQL a hub may serve before it leads (replicas); the tests' hub is alone and leads soon.
  await hub.leading;
  return wrapHub(hub, dir, options, hub.initialAdminToken!);
}

/** Starts a new hub on the stopped hub's data directory and ports, as a process restart would. */
/**
 * Starts a hub again on the old one's data directory: on its ports, or with `freshPorts` on ports of its
 * own (for agents that dial a proxy: a port the old hub freed may be taken by anything meanwhile).
 */
export async function restartTestHub(old: TestHub, opts: { freshPorts?: boolean } = {}): Promise<TestHub> {
  const options: HubOptions = {
    ...old.options,
    httpListen: { host: '127.0.0.1', port: opts.freshPorts ? 0 : Number(new URL(old.url).port) },
    grpcListen: `127.0.0.1:${opts.freshPorts ? 0 : old.grpcPort}`,
  };
  const hub = await startHub(options, testLogger());
  await hub.leading;
  return wrapHub(hub, old.dir, options, old.adminToken);
}

function wrapHub(hub: RunningHub, dir: string, options: HubOptions, adminToken: string): TestHub {
  const api = async (method: string, route: string, body?: unknown) => {
    const res = await fetch(`${hub.url}/api/v1${route}`, {
      method,
      headers: {
        authorization: `Bearer ${adminToken}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as unknown };
  };
  return {
    ...hub,
    adminToken,
    dir,
    options,
    api: api as TestHub['api'],
    stop: () => hub.close(),
    async newAgentToken(name = 'test', team?: string) {
      const res = await api('POST', '/agent-tokens', { name, team });
      if (res.status !== 201) throw new Error(`token create failed: ${JSON.stringify(res.body)}`);
      return (res.body as { token: string }).token;
    },
    async close() {
      await hub.close();
      // Retries: a step being wound down may still be writing under it (ENOTEMPTY).
      await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
    },
  };
}

export interface TestAgentOptions {
  name?: string;
  /** The agent config's `cluster` (default `test`): the hub knows the agent as CLUSTER/NAME. */
  cluster?: string;
  /** YAML for the `pools:` list; one linux process pool of capacity 4 by default. */
  pools?: string;
  /** More top-level YAML for the agent config (e.g. a `data_endpoint:` block). */
  extraConfig?: string;
  token?: string;
  /** host:port to dial instead of the hub's gRPC port (e.g. a TcpProxy). */
  address?: string;
  /** YAML for `hub.tls`; plaintext by default. */
  tls?: string;
  /** The platform the agent believes its host is (default linux): lets one machine play a macOS agent. */
  hostPlatform?: NodeJS.Platform;
  /** host:port for the agent's /metrics endpoint (off by default). */
  metricsListen?: string;
  /** Where the agent logs (silent by default). */
  log?: Logger;
  /** The mode of the agent's directory (default 0700, as mkdtemp makes it). */
  dirMode?: number;
}

export async function startTestAgent(
  hub: TestHub,
  opts: TestAgentOptions = {},
): Promise<RunningAgent & { dir: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-agent-'));
  if (opts.dirMode !== undefined) await chmod(dir, opts.dirMode);
  const token = opts.token ?? (await hub.newAgentToken(opts.name ?? 'agent'));
  await writeFile(path.join(dir, 'token'), token, { mode: 0o600 });
  const yaml = `hub:
  address: ${opts.address ?? `127.0.0.1:${hub.grpcPort}`}
  tls:
${opts.tls ?? '    insecure_plaintext: true'}
token_file: token
name: ${opts.name ?? 'agent-1'}
cluster: ${opts.cluster ?? 'test'}
work_dir: work
${opts.metricsListen ? `metrics:\n  listen: ${opts.metricsListen}\n` : ''}pools:
${opts.pools ?? '  - name: local\n    platform: linux\n    capacity: 4'}
${opts.extraConfig ?? ''}
`;
  const config = parseAgentConfig(yaml, {
    file: path.join(dir, 'agent.yaml'),
    env: {},
    hostname: 'test-host',
    cpus: 2,
    platform: opts.hostPlatform ?? 'linux',
    tmpdir: dir,
  });
  const agent = await startAgent(config, opts.log ?? testLogger()).catch(async (err: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw err;
  });
  return {
    ...agent,
    dir,
    async stop() {
      await agent.stop();
      // Retries: a step being wound down may still be writing under it (ENOTEMPTY).
      await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
    },
  };
}

export interface EventStream {
  /** Reads until `text` has appeared in the raw stream; returns everything read so far. */
  until(text: string): Promise<string>;
  /** Reads to the end of the stream; returns everything read. */
  rest(): Promise<string>;
  cancel(): Promise<void>;
}

/** Opens a build's raw SSE stream for step-by-step reading. */
export async function openEventStream(
  hub: Pick<TestHub, 'url' | 'adminToken'>,
  buildId: number,
): Promise<EventStream> {
  const res = await fetch(`${hub.url}/api/v1/builds/${buildId}/events`, {
    headers: { authorization: `Bearer ${hub.adminToken}` },
  });
  if (!res.body) throw new Error(`no event stream (HTTP ${res.status})`);
  const reader = res.body.getReader() as ReadableStreamDefaultReader<Uint8Array>;
  const decoder = new TextDecoder();
  let seen = '';
  const readOnce = async () => {
    const chunk = await reader.read();
    if (!chunk.done) seen += decoder.decode(chunk.value, { stream: true });
    return chunk.done;
  };
  return {
    async until(text) {
      while (!seen.includes(text))
        if (await readOnce()) throw new Error(`stream ended before ${JSON.stringify(text)}`);
      return seen;
    },
    async rest() {
      while (!(await readOnce()));
      return seen;
    },
    cancel: () => reader.cancel(),
  };
}

/** Reads a build's SSE stream to its end and returns the envelopes. */
export async function readBuildEvents(
  hub: Pick<TestHub, 'url' | 'adminToken'>,
  buildId: number,
): Promise<{ event: string; data: Record<string, unknown> }[]> {
  const res = await fetch(`${hub.url}/api/v1/builds/${buildId}/events`, {
    headers: { authorization: `Bearer ${hub.adminToken}` },
  });
  const text = await res.text();
  const out: { event: string; data: Record<string, unknown> }[] = [];
  for (const block of text.split('\n\n')) {
    const data = block.split('\n').find((l) => l.startsWith('data: '));
    if (block.includes('event: event') && data)
      out.push(JSON.parse(data.slice(6)) as { event: string; data: Record<string, unknown> });
  }
  return out;
}

export async function setPipeline(hub: TestHub, name: string, source: string): Promise<void> {
  const res = await hub.api('PUT', `/teams/main/pipelines/${name}/config`, { source, file: `${name}.yml` });
  if (res.status !== 200) throw new Error(`set-pipeline failed: ${JSON.stringify(res.body)}`);
  // New pipelines start paused (Concourse's rule); tests want them running.
  const unpaused = await hub.api('PUT', `/teams/main/pipelines/${name}/unpause`);
  if (unpaused.status !== 204) throw new Error(`unpause failed: ${JSON.stringify(unpaused.body)}`);
}

export async function triggerJob(hub: TestHub, pipeline: string, job: string): Promise<number> {
  const res = await hub.api<{ id: number }>('POST', `/teams/main/pipelines/${pipeline}/jobs/${job}/builds`);
  if (res.status !== 201) throw new Error(`trigger failed: ${JSON.stringify(res.body)}`);
  return res.body.id;
}

/** A one-job pipeline whose single task runs `sh -c SCRIPT`. */
export function shellPipeline(script: string, extra = ''): string {
  return `jobs:
- name: job
  plan:
  - task: run
${extra}    config:
      platform: linux
      run:
        path: sh
        args: ['-c', ${JSON.stringify(script)}]
`;
}

/** The concatenated log payloads of a build's steps (the hub's own notes, of no step, left out). */
export function logText(events: { event: string; data: Record<string, unknown> }[]): string {
  return events
    .filter((e) => e.event === 'log' && (e.data.origin as { id?: string } | undefined)?.id !== undefined)
    .map((e) => e.data.payload as string)
    .join('');
}

export function finalStatus(events: { event: string; data: Record<string, unknown> }[]): string | undefined {
  return events.filter((e) => e.event === 'status').at(-1)?.data.status as string | undefined;
}

/** The hub's /metrics, read as Prometheus would with a token (the admin's here). */
export async function scrapeMetrics(hub: TestHub): Promise<string> {
  const res = await fetch(`${hub.url}/metrics`, { headers: { authorization: `Bearer ${hub.adminToken}` } });
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return res.text();
}
