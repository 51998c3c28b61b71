// `--replicas 1,3`: the hub as replicas run it, N child processes (`node dist/hub/main.js --database`)
// on one local PostgreSQL with its durable defaults (fsync and synchronous commit on), sharing a data
// directory as they would a volume. Protocol agents are spread over the replicas (agent i dials replica
// i mod N), HTTP clients too, so steps cross replicas as they do behind a load balancer: the leader runs
// every build, each step is claimed by the replica holding an agent's stream, and events reach SSE
// readers on any replica. Measured:
// - steps/s: one-step builds, triggered round-robin over the replicas, instant agents;
// - dispatch: previous step's Finished sent -> next Assign received, a 20-step build on one agent of
//   capacity 1 that dials a replica other than the leader (the cross-replica path: step_ended hint to
//   the leader, its engine, the shared queue, a dispatch hint back);
// - log MB/s: bench/logs.ts with the agent on one replica and the SSE watcher on another.

import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ChildProcess } from 'node:child_process';
import pg from 'pg';
import { readAdminToken } from '../hub/auth/admin-token.js';
import { startTestPostgres, type TestPostgres } from '../test/support/postgres.js';
import { ensureBuilt, kill, spawnHub } from './child-hub.js';
import { measureLogs, type LogsResult } from './logs.js';
import { BenchAgent } from './proto-agent.js';
import { summarize, type Summary } from './stats.js';
import { totalCpuSeconds, HubApi, sleep, taskPipeline, within } from './support.js';

export interface ReplicasResult {
  replicas: number;
  stepsPerS: number;
  builds: number;
  /** CPU time of every hub replica together (user + system) per step. */
  hubCpuMsPerStep: number;
  /** Previous step's Finished sent -> next Assign received. */
  dispatch: Summary;
  logs: LogsResult;
}

interface Replica {
  api: HubApi;
  grpcAddress: string;
  pid: number;
  leading: boolean;
}

interface Replicas {
  hubs: Replica[];
  agentToken: string;
  /** Counts the builds in a status, straight from the database. */
  count(status: string): Promise<number>;
  close(): Promise<void>;
}

const AGENTS = 21;
const CAPACITY = 50;
const CONCURRENCY = 32;
const WARMUP_BUILDS = 100;
const CHAIN_STEPS = 20;
const CHAIN_BUILDS = 10;

/** The admin token the leader writes on the first start, once it is there. */
async function adminToken(dataDir: string): Promise<string> {
  return within(
    60_000,
    'the leader to write the admin token',
    (async () => {
      for (;;) {
        const token = await readAdminToken(dataDir).catch(() => undefined);
        if (token) return token;
        await sleep(100);
      }
    })(),
  );
}

async function startReplicas(count: number): Promise<Replicas> {
  await ensureBuilt();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-bench-replicas-'));
  // Made here: a hub on PostgreSQL does not create its data directory (SQLite's opener does).
  const dataDir = path.join(dir, 'shared');
  await mkdir(dataDir);
  let server: TestPostgres | undefined;
  let db: pg.Pool | undefined;
  const children: ChildProcess[] = [];
  const close = async () => {
    await Promise.all(children.map(kill));
    await db?.end();
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    server = await startTestPostgres({ durable: true });
    const url = await server.createDatabase('outpost_bench_replicas');
    db = new pg.Pool({ connectionString: url, max: 1 });
    // Started one by one: the first migrates the database and leads (so the leader is known).
    const started: { url: string; grpcPort: number; pid: number }[] = [];
    for (let i = 0; i < count; i++) {
      const hub = await spawnHub(dataDir, ['--database', url]);
      children.push(hub.child);
      started.push({ url: hub.url, grpcPort: hub.grpcPort, pid: hub.child.pid ?? 0 });
      if (i === 0) await adminToken(dataDir);
    }
    const token = await adminToken(dataDir);
    const hubs = await Promise.all(
      started.map(async (s): Promise<Replica> => {
        const res = await fetch(`${s.url}/readyz`);
        const body = (await res.json()) as { leading?: boolean };
        return {
          api: new HubApi(s.url, token),
          grpcAddress: `127.0.0.1:${s.grpcPort}`,
          pid: s.pid,
          leading: body.leading === true,
        };
      }),
    );
    const first = hubs[0];
    if (!first) throw new Error('no replica started');
    const pool = db;
    return {
      hubs,
      agentToken: await first.api.createAgentToken('bench'),
      async count(status) {
        const { rows } = await pool.query<{ n: string }>(
          'SELECT count(*) AS n FROM builds WHERE status = $1',
          [status],
        );
        return Number(rows[0]?.n ?? 0);
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Waits until `want` builds succeeded (polled every 50 ms: the figure's resolution); fails on a failed one. */
async function succeeded(r: Replicas, want: number, ms: number, what: string): Promise<void> {
  await within(
    ms,
    what,
    (async () => {
      for (;;) {
        const [ok, bad] = await Promise.all([
          r.count('succeeded'),
          Promise.all(['failed', 'errored', 'aborted'].map((s) => r.count(s))),
        ]);
        const failed = bad.reduce((a, b) => a + b, 0);
        if (failed > 0) throw new Error(`${failed} builds did not succeed`);
        if (ok >= want) return;
        await sleep(50);
      }
    })(),
  );
}

async function stepsPerSecond(
  r: Replicas,
  builds: number,
): Promise<{ stepsPerS: number; hubCpuMsPerStep: number }> {
  const agents = Array.from({ length: AGENTS }, (_, i) => {
    const replica = r.hubs[i % r.hubs.length];
    if (!replica) throw new Error('no replica');
    const agent: BenchAgent = new BenchAgent({
      address: replica.grpcAddress,
      token: r.agentToken,
      name: `rp-agent-${i}`,
      capacity: CAPACITY,
      ownConnection: true,
      handlers: { assign: (assign) => agent.acceptAndFinish(assign) },
    });
    return agent;
  });
  try {
    await within(30_000, 'agents welcome', Promise.all(agents.map((a) => a.welcome)));
    await r.hubs[0]?.api.setPipeline('throughput', taskPipeline('one', 1));
    let triggered = 0;
    const run = async (count: number) => {
      let next = 0;
      const worker = async () => {
        // Round-robin over the replicas, as a load balancer spreads requests.
        while (next < count) {
          const replica = r.hubs[next++ % r.hubs.length];
          await replica?.api.trigger('throughput', 'one');
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      triggered += count;
    };
    await run(WARMUP_BUILDS);
    await succeeded(r, triggered, 120_000, 'warm-up builds');
    const pids = r.hubs.map((h) => h.pid);
    const cpuAt = await totalCpuSeconds(pids);
    const start = performance.now();
    await run(builds);
    await succeeded(r, triggered, 300_000, `${builds} one-step builds`);
    const seconds = (performance.now() - start) / 1000;
    const cpu = (await totalCpuSeconds(pids)) - cpuAt;
    return { stepsPerS: builds / seconds, hubCpuMsPerStep: (cpu * 1000) / builds };
  } finally {
    for (const agent of agents) agent.close();
  }
}

/** A replica other than the leader when there is one: the agent's steps then cross replicas. */
function follower(r: Replicas): Replica {
  const pick = r.hubs.find((h) => !h.leading) ?? r.hubs[0];
  if (!pick) throw new Error('no replica');
  return pick;
}

async function chainedDispatch(r: Replicas): Promise<Summary> {
  const samples: number[] = [];
  const finishedAt = new Map<number, number>();
  let recording = false;
  const agent: BenchAgent = new BenchAgent({
    address: follower(r).grpcAddress,
    token: r.agentToken,
    name: 'rp-dispatch-agent',
    capacity: 1,
    ownConnection: true,
    handlers: {
      assign: (assign) => {
        const buildId = assign.context?.buildId ?? 0;
        const finished = finishedAt.get(buildId);
        if (recording && finished !== undefined) samples.push(performance.now() - finished);
        agent.acceptAndFinish(assign);
        finishedAt.set(buildId, performance.now());
      },
    },
  });
  try {
    await within(30_000, 'dispatch agent welcome', agent.welcome);
    const api = follower(r).api;
    await api.setPipeline('dispatch', taskPipeline('chain', CHAIN_STEPS));
    let done = await r.count('succeeded');
    for (let i = 0; i < CHAIN_BUILDS + 1; i++) {
      recording = i > 0;
      await api.trigger('dispatch', 'chain');
      // One build at a time, so samples never queue behind each other.
      await succeeded(r, ++done, 120_000, 'dispatch build');
    }
    const expected = CHAIN_BUILDS * (CHAIN_STEPS - 1);
    if (samples.length !== expected)
      throw new Error(`replica dispatch: expected ${expected} samples, got ${samples.length}`);
    return summarize(samples);
  } finally {
    agent.close();
  }
}

/** The log stream with the agent on one replica and the SSE watcher on another (the leader runs the build). */
function logs(r: Replicas): Promise<LogsResult> {
  const agentSide = follower(r);
  const watcher = r.hubs.find((h) => h !== agentSide) ?? agentSide;
  return measureLogs(() =>
    Promise.resolve({
      api: agentSide.api,
      watchApi: watcher.api,
      agentToken: r.agentToken,
      grpcAddress: agentSide.grpcAddress,
      pids: r.hubs.map((h) => h.pid),
      close: () => Promise.resolve(),
    }),
  );
}

/** Every figure with `count` replicas on one fresh durable PostgreSQL. */
export async function measureReplicas(count: number, builds: number): Promise<ReplicasResult> {
  const r = await startReplicas(count);
  try {
    const { stepsPerS, hubCpuMsPerStep } = await stepsPerSecond(r, builds);
    const dispatch = await chainedDispatch(r);
    return { replicas: count, stepsPerS, builds, hubCpuMsPerStep, dispatch, logs: await logs(r) };
  } finally {
    await r.close();
  }
}
