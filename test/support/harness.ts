// Starts real hubs and agents in this process on 127.0.0.1 ephemeral ports, with real gRPC and HTTP
// between them, for integration tests and benchmarks.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import { parseAgentConfig } from '../../agent/config.js';
import { startAgent, type RunningAgent } from '../../agent/agent.js';
import { DEFAULT_HUB_OPTIONS, startHub, type HubOptions, type RunningHub } from '../../hub/hub.js';

export function testLogger(): Logger {
  return pino({ level: process.env.OUTPOST_TEST_LOG_LEVEL ?? 'silent' });
}

export interface TestHub extends RunningHub {
  adminToken: string;
  dir: string;
  /** Calls the hub API with the admin token. */
  api<T = unknown>(method: string, route: string, body?: unknown): Promise<{ status: number; body: T }>;
  newAgentToken(name?: string, team?: string): Promise<string>;
}

export async function startTestHub(overrides: Partial<HubOptions> = {}): Promise<TestHub> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-hub-'));
  const hub = await startHub(
    {
      ...DEFAULT_HUB_OPTIONS,
      dataDir: dir,
      tls: undefined,
      httpListen: { host: '127.0.0.1', port: 0 },
      grpcListen: '127.0.0.1:0',
      ...overrides,
    },
    testLogger(),
  );
  const adminToken = hub.initialAdminToken!;
  const api = async <T>(method: string, route: string, body?: unknown) => {
    const res = await fetch(`${hub.url}/api/v1${route}`, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  };
  return {
    ...hub,
    adminToken,
    dir,
    api,
    async newAgentToken(name = 'test', team?: string) {
      const res = await api<{ token: string }>('POST', '/agent-tokens', { name, team });
      if (res.status !== 201) throw new Error(`token create failed: ${JSON.stringify(res.body)}`);
      return res.body.token;
    },
    async close() {
      await hub.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface TestAgentOptions {
  name?: string;
  pools?: string;
  token?: string;
}

export async function startTestAgent(hub: TestHub, opts: TestAgentOptions = {}): Promise<RunningAgent & { dir: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-agent-'));
  const token = opts.token ?? (await hub.newAgentToken(opts.name ?? 'agent'));
  await writeFile(path.join(dir, 'token'), token, { mode: 0o600 });
  const yaml = `hub:
  address: 127.0.0.1:${hub.grpcPort}
  tls:
    insecure_plaintext: true
token_file: token
name: ${opts.name ?? 'agent-1'}
cluster: test
work_dir: work
pools:
${opts.pools ?? '  - name: local\n    platform: linux\n    capacity: 4'}
`;
  const config = parseAgentConfig(yaml, {
    file: path.join(dir, 'agent.yaml'),
    env: {},
    hostname: 'test-host',
    cpus: 2,
    platform: 'linux',
    tmpdir: dir,
  });
  const agent = await startAgent(config, testLogger());
  return {
    ...agent,
    dir,
    async stop() {
      await agent.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Reads a build's SSE stream to its end and returns the envelopes. */
export async function readBuildEvents(hub: TestHub, buildId: number): Promise<{ event: string; data: Record<string, unknown> }[]> {
  const res = await fetch(`${hub.url}/api/v1/builds/${buildId}/events`, { headers: { authorization: `Bearer ${hub.adminToken}` } });
  const text = await res.text();
  const out: { event: string; data: Record<string, unknown> }[] = [];
  for (const block of text.split('\n\n')) {
    const data = block.split('\n').find((l) => l.startsWith('data: '));
    if (block.includes('event: event') && data) out.push(JSON.parse(data.slice(6)) as { event: string; data: Record<string, unknown> });
  }
  return out;
}
