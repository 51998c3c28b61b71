// (e) Memory of the real processes (built JavaScript, as deployed): a hub child process, a real agent
// child process idling against it, then 10,000 protocol-level agent sessions from this process, each on
// its own HTTP/2 connection and heartbeating (the hub's RSS is read at 1,000 and at 10,000, and its CPU
// while the 10,000 idle). RSS and CPU time are read from /proc. Child processes are always killed on
// the way out.

import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readAdminToken } from '../hub/auth/admin-token.js';
import { agentConfigYaml } from './build.js';
import { kill, spawnAgent, spawnHub } from './child-hub.js';
import { BenchAgent } from './proto-agent.js';
import { cpuSeconds } from './logs.js';
import { HubApi, rssMb, sleep, waitForAgents, within } from './support.js';

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
}

const AGENTS = 10_000;
/** The hub's RSS is also read when this many sessions are up (the figure earlier runs reported). */
const FIRST_READING = 1_000;
/** How long the hub's CPU is watched with every session idle (several heartbeat intervals). */
const CPU_WINDOW_MS = 20_000;
/** Sessions opened at once: enough to be quick, few enough not to trip the hub's Hello timeout. */
const CONNECT_BATCH = 100;
const IDLE_MS = 2_000;

export async function measureMemory(): Promise<MemoryResult> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-bench-mem-'));
  let hub: ChildProcess | undefined;
  let agent: ChildProcess | undefined;
  const sessions: BenchAgent[] = [];
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

    // Idle sessions, each on its own connection, heartbeating at the Welcome's interval.
    const start = Date.now();
    let hubRssMb1000Agents = NaN;
    for (let i = 0; i < AGENTS; i += CONNECT_BATCH) {
      if (i === FIRST_READING) {
        await waitForAgents(api, FIRST_READING, 30_000);
        await sleep(IDLE_MS);
        hubRssMb1000Agents = await rssMb(hubPid);
      }
      const batch = Array.from(
        { length: Math.min(CONNECT_BATCH, AGENTS - i) },
        (_, j) =>
          new BenchAgent({
            address: grpcAddress,
            token: agentToken,
            name: `mem-agent-${i + j}`,
            capacity: 4,
            ownConnection: true,
            handlers: {},
          }),
      );
      sessions.push(...batch);
      // On a busy machine the run may not get there: say how far it got, and what the hub held then.
      await within(
        30_000,
        `memory sessions welcome (sessions ${i + 1}-${i + batch.length} of ${AGENTS}; hub RSS ${Math.round(await rssMb(hubPid))} MB)`,
        Promise.all(batch.map((s) => s.welcome)),
      );
    }
    await waitForAgents(api, AGENTS, 60_000);
    const connectSeconds = (Date.now() - start) / 1000;
    await sleep(IDLE_MS);
    const cpuBefore = await cpuSeconds(hubPid);
    await sleep(CPU_WINDOW_MS);
    const hubIdleCpuPercent10000Agents =
      (((await cpuSeconds(hubPid)) - cpuBefore) / (CPU_WINDOW_MS / 1000)) * 100;
    return {
      agentIdleRssMb,
      hubIdleRssMb,
      hubRssMb1000Agents,
      hubRssMb10000Agents: await rssMb(hubPid),
      hubPeakRssMb: await rssMb(hubPid, 'VmHWM'),
      hubIdleCpuPercent10000Agents,
      agents: AGENTS,
      connectSeconds,
    };
  } finally {
    for (const session of sessions) session.close();
    if (agent) await kill(agent);
    if (hub) await kill(hub);
    await rm(dir, { recursive: true, force: true });
  }
}
