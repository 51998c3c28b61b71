// (c) Sustained steps per second through the hub: many protocol-level agents that finish every step
// at once, and thousands of one-step builds triggered over HTTP with bounded concurrency. Measures the
// hub's own capacity (trigger, engine, dispatch, results, events), not process spawning. Two timed runs
// of 3,000 builds on one hub: the first ("cold", after 200 warm-up builds) pays V8 compiling the hub's
// code and a fresh WAL file growing; the second, on the same hub right after, is the steady state of a
// hub that has run a while, and is the headline.
//
// On the file-backed store the hub is what users run: `node dist/hub/main.js` in a fresh data directory
// (bench/child-hub.ts), a process of its own, and the agents and the HTTP client run in another, the load
// generator (bench/load-generator.ts). So the hub's CPU per step is its process's own (/proc/<pid>/stat),
// and the generator's is reported apart. The extra `--postgres` and `--memory` rows keep the hub inside the
// bench process (its CPU is then the bench process's, which does little else while the generator runs).

import { fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineReferenceMs } from './floor.js';
import { startChildHub } from './child-hub.js';
import type { LoadGeneratorConfig, LoadReply, LoadRequest } from './load-generator.js';
import {
  cpuSeconds,
  type BenchStore,
  type HubApi,
  sleep,
  startInProcessHub,
  taskPipeline,
  within,
} from './support.js';

/** One timed run of one-step builds on a hub. */
export interface ThroughputRun {
  stepsPerS: number;
  builds: number;
  seconds: number;
  /**
   * CPU time of the hub's process per step (user + system, from /proc). Unlike steps/s it hardly
   * depends on what else the machine runs, but it follows the machine's speed (`machineRefMs`): 1 ms
   * per step is 1,000 steps/s on one core.
   */
  hubCpuMsPerStep: number;
  /** CPU time of the load generator (protocol agents and HTTP client) per step. */
  loadCpuMsPerStep: number;
}

/**
 * Two timed runs on one hub: `cold`, its first builds after a short warm-up, while V8 still compiles
 * the hub's code and its WAL file grows (docs/performance.md, session 12: ~40% of the CPU per step of a
 * 1,000-build run); then the same number again on the same hub, the steady state a hub that has run a
 * while is in, which the headline figures are.
 */
export interface ThroughputResult extends ThroughputRun {
  /** Where the hub ran: its own process (`node dist/hub/main.js`) or inside the bench process. */
  hubProcess: 'child' | 'in-process';
  /** Builds the hub had run before the steady run was timed (warm-up and the cold run). */
  buildsBefore: number;
  cold: ThroughputRun;
  /** floor.ts machineReferenceMs right before and right after the steady run. */
  machineRefMs: { before: number; after: number };
}

const AGENTS = 20;
const CAPACITY = 50;
/**
 * Builds before the cold run. OUTPOST_BENCH_WARMUP_BUILDS overrides it, to see how much of the CPU per
 * step is V8 still optimizing the hub's code (docs/performance.md, session 12).
 */
function warmupBuilds(value: string | undefined): number {
  if (value === undefined) return 200;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new Error(`OUTPOST_BENCH_WARMUP_BUILDS must be a whole number of builds, not "${value}"`);
  return n;
}
const BUILDS = 3_000;
/** HTTP triggers in flight at once. */
const CONCURRENCY = 32;

/** The hub under measurement, wherever it runs. */
interface HubUnderTest {
  api: HubApi;
  agentToken: string;
  grpcAddress: string;
  pid: number;
  close: () => Promise<void>;
}

async function startHubUnderTest(store: BenchStore): Promise<HubUnderTest> {
  if (store === 'file') return startChildHub();
  const h = await startInProcessHub(store);
  return { ...h, pid: process.pid };
}

/** The load generator process, and one request to it at a time. */
function startLoadGenerator(config: LoadGeneratorConfig) {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'load-generator.ts');
  // OUTPOST_BENCH_LOAD_NODE_ARGS: Node.js flags for the generator, e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof'.
  const nodeArgs = process.env.OUTPOST_BENCH_LOAD_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = fork(script, [JSON.stringify(config)], {
    execArgv: ['--import', 'tsx', ...nodeArgs],
    stdio: 'inherit',
  });
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`load generator exited (code ${code})`))),
  );
  exited.catch(() => undefined);
  const next = () =>
    Promise.race([
      new Promise<LoadReply>((resolve) => child.once('message', (m: LoadReply) => resolve(m))),
      exited,
    ]).then((m) => {
      if ('error' in m) throw new Error(`load generator: ${m.error}`);
      return m;
    });
  return {
    ready: next(),
    async run(count: number) {
      const answer = next();
      child.send({ run: count } satisfies LoadRequest);
      const m = await answer;
      if (!('ran' in m)) throw new Error('load generator: unexpected answer');
      return m;
    },
    close() {
      if (child.connected) child.send({ close: true } satisfies LoadRequest);
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      return exited.catch(() => clearTimeout(timer));
    },
  };
}

/**
 * Reads every build from the hub's API until it has ended; fails unless all succeeded. Returns the
 * latest end (the hub's clock, ms since the epoch).
 */
async function allSucceeded(api: HubApi, ids: number[]): Promise<number> {
  let lastEnd = 0;
  let i = 0;
  const reader = async () => {
    while (i < ids.length) {
      const id = ids[i++];
      for (;;) {
        const res = await api.call('GET', `/builds/${id}`);
        const build = res.body as { status: string; endedAt: number | null };
        if (res.status !== 200) throw new Error(`build ${id}: HTTP ${res.status}`);
        if (build.endedAt === null) {
          await sleep(20);
          continue;
        }
        if (build.status !== 'succeeded') throw new Error(`build ${id} ended ${build.status}`);
        lastEnd = Math.max(lastEnd, build.endedAt);
        break;
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, reader));
  return lastEnd;
}

/** Runs `builds` one-step builds through the generator and times them against the hub's clock and CPU. */
async function timedRun(
  hub: HubUnderTest,
  generator: ReturnType<typeof startLoadGenerator>,
  builds: number,
): Promise<ThroughputRun> {
  const cpuBefore = await cpuSeconds(hub.pid);
  const startedAt = Date.now();
  const timed = await within(90_000, 'throughput run', generator.run(builds));
  // Every step's end is acknowledged; the builds' own ends follow within a few ms. Let them, then
  // take the hub's CPU before the reads below add to it.
  await sleep(200);
  let cpuAfter = await cpuSeconds(hub.pid);
  const readAt = Date.now();
  const lastEnd = await within(60_000, 'builds read back', allSucceeded(hub.api, timed.buildIds));
  // A build that ended after that reading (a slow machine): count the reads too rather than miss its end.
  if (lastEnd > readAt) cpuAfter = await cpuSeconds(hub.pid);
  const seconds = (lastEnd - startedAt) / 1000;
  return {
    stepsPerS: builds / seconds,
    builds,
    seconds,
    hubCpuMsPerStep: ((cpuAfter - cpuBefore) * 1000) / builds,
    loadCpuMsPerStep: timed.cpuMs / builds,
  };
}

/** `builds`: how many one-step builds each timed run has (fewer for a quick comparison on a busy machine). */
export async function measureThroughput(store: BenchStore, builds = BUILDS): Promise<ThroughputResult> {
  const hub = await startHubUnderTest(store);
  let generator: ReturnType<typeof startLoadGenerator> | undefined;
  try {
    await hub.api.setPipeline('throughput', taskPipeline('one', 1));
    generator = startLoadGenerator({
      url: hub.api.url,
      apiToken: hub.api.token,
      grpcAddress: hub.grpcAddress,
      agentToken: hub.agentToken,
      agents: AGENTS,
      capacity: CAPACITY,
      concurrency: CONCURRENCY,
      pipeline: 'throughput',
      job: 'one',
    });
    await within(30_000, 'load generator ready', generator.ready);
    const warmup = warmupBuilds(process.env.OUTPOST_BENCH_WARMUP_BUILDS);
    const warm = await within(60_000, 'throughput warm-up', generator.run(warmup));
    await within(30_000, 'warm-up builds succeeded', allSucceeded(hub.api, warm.buildIds));
    const cold = await timedRun(hub, generator, builds);
    const refBefore = await machineReferenceMs();
    const steady = await timedRun(hub, generator, builds);
    const refAfter = await machineReferenceMs();
    return {
      ...steady,
      hubProcess: store === 'file' ? 'child' : 'in-process',
      buildsBefore: warmup + builds,
      cold,
      machineRefMs: { before: refBefore, after: refAfter },
    };
  } finally {
    await generator?.close();
    await hub.close();
  }
}
