// (c) Sustained steps per second through the hub: many protocol-level agents that finish every step
// at once, and thousands of one-step builds triggered over HTTP with bounded concurrency. Measures the
// hub's own capacity (trigger, engine, dispatch, results, events), not process spawning.

import { performance } from 'node:perf_hooks';
import { BenchAgent } from './proto-agent.js';
import { type BenchStore, startInProcessHub, taskPipeline, within } from './support.js';

export interface ThroughputResult {
  stepsPerS: number;
  builds: number;
  seconds: number;
}

const AGENTS = 20;
const CAPACITY = 50;
const WARMUP_BUILDS = 200;
const BUILDS = 3_000;
/** HTTP triggers in flight at once. */
const CONCURRENCY = 32;

export async function measureThroughput(store: BenchStore): Promise<ThroughputResult> {
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
    const run = async (count: number): Promise<number> => {
      let next = 0;
      const worker = async () => {
        while (next++ < count) await api.trigger('throughput', 'one');
      };
      const start = performance.now();
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      await hub.engine.idle();
      return (performance.now() - start) / 1000;
    };
    await within(60_000, 'throughput warm-up', run(WARMUP_BUILDS));
    const seconds = await within(90_000, 'throughput run', run(BUILDS));

    const succeeded = await hub.store.listBuilds({ statuses: ['succeeded'], limit: 1_000_000 });
    if (succeeded.length !== WARMUP_BUILDS + BUILDS)
      throw new Error(
        `throughput: ${WARMUP_BUILDS + BUILDS} builds triggered, ${succeeded.length} succeeded`,
      );
    return { stepsPerS: BUILDS / seconds, builds: BUILDS, seconds };
  } finally {
    for (const agent of agents) agent.close();
    await close();
  }
}
