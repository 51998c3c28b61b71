// (e) The hub with 10,000 idle agents: a hub child process (built JavaScript, file-backed store, TLS on
// its agent gateway, as users run it) and 10,000 agent sessions held by a few child processes
// (bench/agent-swarm.ts), each session a protocol-level agent on an HTTP/2 + TLS connection of its own,
// heartbeating at the hub's default interval. The hub's RSS is read at 1,000 and at 10,000 sessions,
// its peak (VmHWM) at the end, and its CPU (and the swarm's) while every session idles. Child processes
// are always killed on the way out.

import { fork, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readAdminToken } from '../hub/auth/admin-token.js';
import { selfSignedCert } from '../test/support/self-signed.js';
import { kill, spawnHub } from './child-hub.js';
import { cpuSeconds, totalCpuSeconds, HubApi, rssMb, sleep, waitForAgents, within } from './support.js';

export interface ManyAgentsResult {
  agents: number;
  /** Child processes holding the sessions (the agent side), and whether the gateway spoke TLS. */
  swarmProcesses: number;
  tls: boolean;
  heartbeatMs: number;
  hubRssMb1000Agents: number;
  hubRssMb: number;
  hubPeakRssMb: number;
  /** The hub's CPU (user + system, % of one core) while every session idles and heartbeats. */
  hubIdleCpuPercent: number;
  /** The swarm's CPU over the same window, all its processes together. */
  swarmCpuPercent: number;
  /** Seconds to open every session and see the API list them all. */
  connectSeconds: number;
  /** Sessions that ended while every one should have been idle (0, or the figure is void). */
  lostSessions: number;
}

const AGENTS = 10_000;
const FIRST_READING = 1_000;
/** Enough processes that no one event loop holding thousands of TLS connections is the bottleneck. */
const SWARM_PROCESSES = 4;
/** Sessions each swarm process opens at once. */
const WAVE = 25;
/** The hub's default heartbeat (hub.ts DEFAULT_HUB_OPTIONS): what users run. */
const HEARTBEAT_MS = 5_000;
/** How long CPU is watched with every session idle: several heartbeat intervals. */
const CPU_WINDOW_MS = 20_000;
const IDLE_MS = 2_000;
const PROGRESS_MS = 30_000;
/** Opening a share of sessions on a loaded two-core machine (TLS handshakes on both sides). */
const OPEN_MS = 1_800_000;

interface Swarm {
  child: ChildProcess;
  /** Sends a request and resolves with the first answer carrying `key`. */
  ask(request: object, key: 'open' | 'lost'): Promise<number>;
}

export async function measureManyAgents(agents = AGENTS): Promise<ManyAgentsResult> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-bench-agents-'));
  let hub: ChildProcess | undefined;
  const swarms: Swarm[] = [];
  let progress: NodeJS.Timeout | undefined;
  try {
    const { keyFile, certFile } = await selfSignedCert(dir, 'hub');
    const dataDir = path.join(dir, 'hub');
    const started = await spawnHub(dataDir, [], { tls: { certFile, keyFile } });
    hub = started.child;
    const hubPid = hub.pid ?? 0;
    const api = new HubApi(started.url, await readAdminToken(dataDir));
    const token = await api.createAgentToken('bench-many-agents');

    // Started together: each compiles its TypeScript first, which takes a while on a loaded machine.
    swarms.push(
      ...(await Promise.all(
        Array.from({ length: SWARM_PROCESSES }, (_, i) =>
          startSwarm({
            address: `127.0.0.1:${started.grpcPort}`,
            token,
            caFile: certFile,
            prefix: `swarm${i}`,
            wave: WAVE,
          }),
        ),
      )),
    );
    const share = (n: number) => Math.ceil(n / SWARM_PROCESSES);
    const openAll = async (total: number) => {
      await within(
        OPEN_MS,
        `${total} agent sessions welcomed (hub RSS ${Math.round(await rssMb(hubPid))} MB)`,
        Promise.all(swarms.map((s) => s.ask({ open: share(total) }, 'open'))),
      );
    };

    const start = Date.now();
    // A long step on a loaded machine: say how far it got, and what the hub holds, as it goes.
    progress = setInterval(() => {
      void Promise.all([api.connectedAgents(), rssMb(hubPid)]).then(
        ([n, rss]) =>
          console.error(
            `many agents: ${n} connected after ${Math.round((Date.now() - start) / 1000)} s, hub RSS ${Math.round(rss)} MB`,
          ),
        () => undefined,
      );
    }, PROGRESS_MS);
    const first = Math.min(FIRST_READING, agents);
    await openAll(first);
    await waitForAgents(api, share(first) * SWARM_PROCESSES, 60_000);
    await sleep(IDLE_MS);
    const hubRssMb1000Agents = await rssMb(hubPid);
    if (agents > first) await openAll(agents - first);
    const total = (share(first) + (agents > first ? share(agents - first) : 0)) * SWARM_PROCESSES;
    await waitForAgents(api, total, 120_000);
    const connectSeconds = (Date.now() - start) / 1000;
    // Not while the CPU is watched: listing 10,000 agents costs the hub.
    clearInterval(progress);

    // From now on every session must hold: one that ends voids the figure.
    for (const swarm of swarms) swarm.child.send({ steady: true });
    await sleep(IDLE_MS);
    const swarmCpu = () => totalCpuSeconds(swarms.map((s) => s.child.pid ?? 0));
    const [hubBefore, swarmBefore] = [await cpuSeconds(hubPid), await swarmCpu()];
    await sleep(CPU_WINDOW_MS);
    const percent = (seconds: number) => (seconds / (CPU_WINDOW_MS / 1000)) * 100;
    const hubIdleCpuPercent = percent((await cpuSeconds(hubPid)) - hubBefore);
    const swarmCpuPercent = percent((await swarmCpu()) - swarmBefore);
    let lostSessions = 0;
    for (const s of swarms) lostSessions += await s.ask({ lost: true }, 'lost');
    return {
      agents: total,
      swarmProcesses: SWARM_PROCESSES,
      tls: true,
      heartbeatMs: HEARTBEAT_MS,
      hubRssMb1000Agents,
      hubRssMb: await rssMb(hubPid),
      hubPeakRssMb: await rssMb(hubPid, 'VmHWM'),
      hubIdleCpuPercent,
      swarmCpuPercent,
      connectSeconds,
      lostSessions,
    };
  } finally {
    clearInterval(progress);
    for (const s of swarms) await kill(s.child);
    if (hub) await kill(hub);
    await rm(dir, { recursive: true, force: true });
  }
}

async function startSwarm(config: object): Promise<Swarm> {
  const child = fork(path.join(import.meta.dirname, 'agent-swarm.ts'), {
    // --no-deprecation: grpc-js names an IP address as the TLS server name, which Node.js warns about.
    execArgv: ['--import', 'tsx', '--no-deprecation'],
    env: { ...process.env, OUTPOST_SWARM: JSON.stringify(config) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`an agent swarm process exited (code ${code})`))),
  );
  exited.catch(() => undefined);
  const next = <T>(pick: (m: Record<string, unknown>) => T | undefined): Promise<T> =>
    Promise.race([
      new Promise<T>((resolve, reject) => {
        const on = (m: Record<string, unknown>) => {
          if (typeof m.failed === 'string') {
            child.off('message', on);
            reject(new Error(`agent swarm: ${m.failed}`));
            return;
          }
          const value = pick(m);
          if (value === undefined) return;
          child.off('message', on);
          resolve(value);
        };
        child.on('message', on);
      }),
      exited,
    ]);
  await next((m) => (m.ready ? true : undefined));
  return {
    child,
    ask(request, key) {
      const answer = next((m) => (typeof m[key] === 'number' ? m[key] : undefined));
      child.send(request);
      return answer;
    },
  };
}
