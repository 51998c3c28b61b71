// The agent behind an egress proxy (issue 13): the hub's name resolves only inside a CONNECT proxy on
// loopback (a .invalid name, which no resolver knows), so an agent reaches the hub through the proxy
// or not at all. The agent is a real process (agent/main.ts), configured by environment variables as
// the chart's proxy: block sets them (both spellings), and as an operator's extraEnv would (upper case
// only, which grpc-js alone ignores).

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { spawnAgentProcess, type AgentProcess } from '../support/agent-process.js';
import { startConnectProxy, type ConnectProxy } from '../support/connect-proxy.js';
import { startTestHub, type TestHub } from '../support/harness.js';

const HUB_NAME = 'outpost-hub.proxy-only.invalid';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function setUp(): Promise<{ hub: TestHub; proxy: ConnectProxy; address: string }> {
  const hub = await startTestHub();
  cleanups.push(() => hub.close());
  const proxy = await startConnectProxy({ [HUB_NAME]: '127.0.0.1' });
  cleanups.push(() => proxy.close());
  return { hub, proxy, address: `${HUB_NAME}:${hub.grpcPort}` };
}

async function agent(hub: TestHub, name: string, address: string, env: Record<string, string>) {
  const dir = await mkdtemp(path.join(os.tmpdir(), `outpost-${name}-`));
  const started: AgentProcess = await spawnAgentProcess(hub, {
    dir,
    name,
    address,
    token: await hub.newAgentToken(name),
    env,
  });
  cleanups.push(async () => {
    started.child.kill('SIGKILL');
    await started.exited;
    await rm(dir, { recursive: true, force: true });
  });
  return started;
}

async function agentStates(hub: TestHub): Promise<Record<string, string>> {
  const res = await hub.api<{ name: string; state: string }[]>('GET', '/agents');
  return Object.fromEntries(res.body.map((a) => [a.name, a.state]));
}

it('reaches the hub only through the CONNECT proxy, set as the chart sets it or upper case only', async () => {
  const { hub, proxy, address } = await setUp();
  // charts/outpost-agent proxy: { https: URL, noProxy: ... } renders both spellings of each.
  const chartStyle = await agent(hub, 'chart-style', address, {
    https_proxy: proxy.url,
    HTTPS_PROXY: proxy.url,
    no_proxy: '.svc,.cluster.local',
    NO_PROXY: '.svc,.cluster.local',
  });
  // HTTPS_PROXY alone (extraEnv, a platform default): the agent copies it for grpc-js at start.
  const upperOnly = await agent(hub, 'upper-only', address, { HTTPS_PROXY: proxy.url });
  await chartStyle.logged('connected to the hub');
  await upperOnly.logged('connected to the hub');
  expect(chartStyle.output()).toContain(`"proxy":"${proxy.url}"`);

  expect(proxy.connects.filter((c) => c === address)).toHaveLength(2);
  expect(await agentStates(hub)).toEqual({ 'test/chart-style': 'connected', 'test/upper-only': 'connected' });
});

it('dials direct for a no_proxy name, which here cannot resolve: the proxy was the only way', async () => {
  const { hub, proxy, address } = await setUp();
  const bypass = await agent(hub, 'bypass', address, { HTTPS_PROXY: proxy.url, NO_PROXY: '.invalid' });
  await bypass.logged('Name resolution failed');
  expect(proxy.connects).toEqual([]);
  expect(await agentStates(hub)).toEqual({});
});

it('refuses to start with a proxy grpc-js would silently skip', async () => {
  const { hub, address } = await setUp();
  const wrong = await agent(hub, 'wrong', address, { HTTPS_PROXY: 'https://proxy.internal:3128' });
  expect(await wrong.exited).toEqual({ code: 1, signal: null });
  expect(wrong.output()).toContain(
    'outpost-agent: https_proxy must be an http:// URL (the hub connection speaks HTTP CONNECT to the proxy): "https://proxy.internal:3128"',
  );
});
