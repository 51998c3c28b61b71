// An agent's identity at the hub is its cluster plus its name (issue 13): every cluster's Helm release
// names its agent after the pod, `outpost-agent-0`, so two clusters on one hub share names and must
// not replace each other's sessions.

import { status as GrpcStatus } from '@grpc/grpc-js';
import { afterEach, expect, it } from 'vitest';
import {
  finalStatus,
  logText,
  readBuildEvents,
  setPipeline,
  shellPipeline,
  startTestAgent,
  startTestHub,
  triggerJob,
  type TestHub,
  scrapeMetrics,
} from '../support/harness.js';
import type { Hello } from '../../proto/gen/outpost/v1/agent.js';
import { rawAgent, rawPool } from '../support/raw-agent.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

interface AgentRow {
  name: string;
  cluster: string;
  state: string;
}

it('keeps two agents with one pod name in two clusters connected, each running its own steps', async () => {
  const hub: TestHub = await startTestHub();
  cleanups.push(() => hub.close());
  const agents = [];
  for (const cluster of ['eu-1', 'us-1']) {
    const agent = await startTestAgent(hub, {
      name: 'outpost-agent-0',
      cluster,
      pools: `  - name: linux\n    platform: linux\n    capacity: 2\n    tags: [${cluster}]`,
    });
    cleanups.push(() => agent.stop());
    agents.push(agent);
  }
  await Promise.all(agents.map((a) => a.welcomed));

  // A step for each cluster's pool: each runs, so neither session was replaced by the other.
  for (const cluster of ['eu-1', 'us-1']) {
    await setPipeline(hub, cluster, shellPipeline(`echo in ${cluster}`, `    tags: [${cluster}]\n`));
    const events = await readBuildEvents(hub, await triggerJob(hub, cluster, 'job'));
    expect(finalStatus(events), cluster).toBe('succeeded');
    expect(logText(events)).toBe(`in ${cluster}\n`);
  }

  const listed = await hub.api<AgentRow[]>('GET', '/agents');
  expect(listed.body.map(({ name, cluster, state }) => ({ name, cluster, state }))).toEqual([
    { name: 'eu-1/outpost-agent-0', cluster: 'eu-1', state: 'connected' },
    { name: 'us-1/outpost-agent-0', cluster: 'us-1', state: 'connected' },
  ]);
  const metrics = await scrapeMetrics(hub);
  expect(metrics).toMatch(/^outpost_hub_agents_connected 2$/m);
  expect(metrics).toMatch(/^outpost_hub_agent_reconnects_total 0$/m);
});

it('refuses a Hello offering a pool without a name, or one name twice, saying so', async () => {
  const hub = await startTestHub();
  cleanups.push(() => hub.close());
  const token = await hub.newAgentToken();
  const cases: [Hello['pools'], string][] = [
    [[rawPool('linux'), rawPool('')], 'a pool has no name'],
    [[rawPool('linux'), rawPool('gpu'), rawPool('linux')], 'pool "linux" is offered twice'],
  ];
  for (const [pools, details] of cases) {
    const raw = rawAgent(`127.0.0.1:${hub.grpcPort}`, token, { pools });
    expect(await raw.ended).toEqual({ code: GrpcStatus.INVALID_ARGUMENT, details });
    raw.close();
  }
  const agents = await hub.api<AgentRow[]>('GET', '/agents');
  expect(agents.body).toEqual([]);
});

it('refuses a Hello whose cluster could not be part of an identity, saying so', async () => {
  const hub = await startTestHub();
  cleanups.push(() => hub.close());
  const token = await hub.newAgentToken();
  for (const cluster of ['', 'eu/1']) {
    const raw = rawAgent(`127.0.0.1:${hub.grpcPort}`, token, { cluster });
    expect(await raw.ended).toEqual({
      code: GrpcStatus.INVALID_ARGUMENT,
      details: `invalid cluster "${cluster}"`,
    });
    raw.close();
  }
});
