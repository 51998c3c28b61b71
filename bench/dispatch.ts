// (a) Dispatch latency: step ready -> Assign received by the agent.
//
// "Ready" is the moment the step's `initialize-task` event is persisted: the engine stores it in the
// transaction that creates the step run, right before it enqueues the step with the dispatcher. The hub
// exposes its store, so the benchmark wraps this hub instance's `createStepRun` and stamps
// performance.now() when a step run announced by that event is stored (BuildEvents publishes it in the
// next microtask). No hub code changes.
//
// A job of many sequential steps gives many samples per build; the same run also reports the chained
// figure "previous step's Finished sent -> next Assign received" (Finished handling + the same path).

import { performance } from 'node:perf_hooks';
import { BenchAgent } from './proto-agent.js';
import { summarize, type Summary } from './stats.js';
import { type BenchStore, buildsSettled, startInProcessHub, taskPipeline, within } from './support.js';

export interface DispatchResult {
  /** initialize-task published -> Assign received. */
  ready: Summary;
  /** Previous step's Finished sent -> next Assign received (same build). */
  chained: Summary;
}

const STEPS_PER_BUILD = 20;
const WARMUP_BUILDS = 2;
const BUILDS = 40;

export async function measureDispatch(storeKind: BenchStore): Promise<DispatchResult> {
  const { hub, api, agentToken, grpcAddress, close } = await startInProcessHub(storeKind);
  const readyAt = new Map<number, number>();
  const finishedAt = new Map<number, number>();
  const ready: number[] = [];
  const chained: number[] = [];
  let recording = false;

  const store = hub.store;
  const createStepRun = store.createStepRun.bind(store);
  store.createStepRun = async (input, announcement) => {
    const run = await createStepRun(input, announcement);
    if (announcement?.events.some((e) => e.type === 'initialize-task'))
      readyAt.set(input.buildId, performance.now());
    return run;
  };

  const agent = new BenchAgent({
    address: grpcAddress,
    token: agentToken,
    name: 'dispatch-agent',
    capacity: 1,
    ownConnection: true,
    handlers: {
      assign: (assign) => {
        const now = performance.now();
        const buildId = assign.context?.buildId ?? 0;
        const readyTime = readyAt.get(buildId);
        const finishedTime = finishedAt.get(buildId);
        if (recording && readyTime !== undefined) ready.push(now - readyTime);
        if (recording && finishedTime !== undefined) chained.push(now - finishedTime);
        agent.acceptAndFinish(assign);
        finishedAt.set(buildId, performance.now());
      },
    },
  });
  try {
    await within(10_000, 'dispatch agent welcome', agent.welcome);
    await api.setPipeline('dispatch', taskPipeline('chain', STEPS_PER_BUILD));
    for (let i = 0; i < WARMUP_BUILDS + BUILDS; i++) {
      recording = i >= WARMUP_BUILDS;
      await api.trigger('dispatch', 'chain');
      // One build at a time, so samples never queue behind each other.
      await within(30_000, 'dispatch build', buildsSettled(hub));
    }
    const expected = BUILDS * STEPS_PER_BUILD;
    if (ready.length !== expected)
      throw new Error(`dispatch: expected ${expected} samples, got ${ready.length}`);
    return { ready: summarize(ready), chained: summarize(chained) };
  } finally {
    agent.close();
    await close();
  }
}
