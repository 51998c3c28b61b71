// (e) Memory of the real processes (built JavaScript, as deployed): a hub child process, a real agent
// child process idling against it, then a hub with 10,000 idle agents (bench/many-agents.ts). RSS and
// CPU time are read from /proc. Child processes are always killed on the way out.

import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readAdminToken } from '../hub/auth/admin-token.js';
import { agentConfigYaml } from './build.js';
import { kill, spawnAgent, spawnHub } from './child-hub.js';
import { measureManyAgents, type ManyAgentsResult } from './many-agents.js';
import { HubApi, rssMb, sleep, waitForAgents } from './support.js';

export interface MemoryResult {
  agentIdleRssMb: number;
  hubIdleRssMb: number;
  hubRssMb1000Agents: number;
  hubRssMb10000Agents: number;
  hubPeakRssMb: number;
  /** The hub's CPU (user + system, % of one core) while the 10,000 sessions idle and heartbeat. */
  hubIdleCpuPercent10000Agents: number;
  agents: number;
  /** Seconds to open every session and see the API list them all. */
  connectSeconds: number;
  /** How the 10,000-agent figures were taken (TLS, swarm processes, their CPU, lost sessions). */
  manyAgents: ManyAgentsResult;
}

const IDLE_MS = 2_000;

export async function measureMemory(): Promise<MemoryResult> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-bench-mem-'));
  let hub: ChildProcess | undefined;
  let agent: ChildProcess | undefined;
  try {
    const dataDir = path.join(dir, 'hub');
    const started = await spawnHub(dataDir);
    hub = started.child;
    const hubPid = hub.pid ?? 0;
    const adminToken = await readAdminToken(dataDir);
    const api = new HubApi(started.url, adminToken);
    const agentToken = await api.createAgentToken('bench-memory');
    const grpcAddress = `127.0.0.1:${started.grpcPort}`;
    await sleep(IDLE_MS);
    const hubIdleRssMb = await rssMb(hubPid);

    // A real agent process, idle after its handshake.
    const agentDir = path.join(dir, 'agent');
    await mkdir(agentDir);
    await writeFile(path.join(agentDir, 'token'), agentToken, { mode: 0o600 });
    const config = path.join(agentDir, 'agent.yaml');
    await writeFile(config, agentConfigYaml(grpcAddress, 'idle-agent', path.join(agentDir, 'work')));
    agent = spawnAgent(config);
    agent.stdout?.resume();
    await waitForAgents(api, 1, 20_000);
    await sleep(IDLE_MS);
    const agentIdleRssMb = await rssMb(agent.pid ?? 0);
    await kill(agent);

    await kill(hub);
    hub = undefined;
    // 10,000 idle agents: a hub of their own, with TLS, and the sessions in child processes.
    const many = await measureManyAgents();
    return {
      agentIdleRssMb,
      hubIdleRssMb,
      hubRssMb1000Agents: many.hubRssMb1000Agents,
      hubRssMb10000Agents: many.hubRssMb,
      hubPeakRssMb: many.hubPeakRssMb,
      hubIdleCpuPercent10000Agents: many.hubIdleCpuPercent,
      agents: many.agents,
      connectSeconds: many.connectSeconds,
      manyAgents: many,
    };
  } finally {
    if (agent) await kill(agent);
    if (hub) await kill(hub);
    await rm(dir, { recursive: true, force: true });
  }
}
