// (c) Sustained steps per second through the hub: many protocol-level agents that finish every step
// at once, and thousands of one-step builds triggered over HTTP with bounded concurrency. Measures the
// hub's own capacity (trigger, engine, dispatch, results, events), not process spawning.

import { performance } from 'node:perf_hooks';
import { BenchAgent } from './proto-agent.js';
import { type BenchStore, buildsSettled, startInProcessHub, taskPipeline, within } from './support.js';

export interface ThroughputResult {
  stepsPerS: number;
  builds: number;
  seconds: number;
  /**
   * CPU time of this process per step (user + system): the hub, the protocol agents and the HTTP
   * client share it. Unlike steps/s it hardly depends on what else the machine runs.
   */
  cpuMsPerStep: number;
}

const AGENTS = 20;
const CAPACITY = 50;
const WARMUP_BUILDS = 200;
const BUILDS = 3_000;
/** HTTP triggers in flight at once. */
const CONCURRENCY = 32;

/** `builds`: how many one-step builds are timed (fewer for a quick comparison on a busy machine). */
export async function measureThroughput(store: BenchStore, builds = BUILDS): Promise<ThroughputResult> {
  const { hub, api, agentToken, grpcAddress, close } = await startInProcessHub(store);
  const agents: BenchAgent[] = [];
  try {
    for (let i = 0; i < AGENTS; i++) {
      const agent: BenchAgent = new BenchAgent({
        address: grpcAddress,
        token: agentToken,
        name: `tp-agent-${i}`,
        capacity: CAPACITY,
        ownConnection: true,
        handlers: { assign: (assign) => agent.acceptAndFinish(assign) },
      });
      agents.push(agent);
    }
    await within(10_000, 'throughput agents welcome', Promise.all(agents.map((a) => a.welcome)));
    await api.setPipeline('throughput', taskPipeline('one', 1));

    // Triggers `count` builds, CONCURRENCY at a time, and waits until the engine has settled them all.
    const run = async (count: number): Promise<{ seconds: number; cpuMs: number }> => {
      let next = 0;
      const worker = async () => {
        while (next++ < count) await api.trigger('throughput', 'one');
      };
      const start = performance.now();
      const cpu = process.cpuUsage();
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      await buildsSettled(hub);
      const used = process.cpuUsage(cpu);
      return { seconds: (performance.now() - start) / 1000, cpuMs: (used.user + used.system) / 1000 };
    };
    await within(60_000, 'throughput warm-up', run(WARMUP_BUILDS));
    const { seconds, cpuMs } = await within(90_000, 'throughput run', run(builds));

    const succeeded = await hub.store.listBuilds({ statuses: ['succeeded'], limit: 1_000_000 });
    if (succeeded.length !== WARMUP_BUILDS + builds)
      throw new Error(
        `throughput: ${WARMUP_BUILDS + builds} builds triggered, ${succeeded.length} succeeded`,
      );
    return { stepsPerS: builds / seconds, builds, seconds, cpuMsPerStep: cpuMs / builds };
  } finally {
    for (const agent of agents) agent.close();
    await close();
  }
}
