// (a) Dispatch latency: step ready -> Assign received by the agent.
//
// "Ready" is the moment the step run and its `initialize-task` event are written: the dispatcher creates
// them, already leased to an agent with room, in one transaction that joins the hub's commit batch
// (hub/store/commit-batch.ts). The Assign leaves once that batch has committed, so the figure holds the
// rest of the hub's turn, the COMMIT, the write and the agent's read. The hub exposes its store, so the
// benchmark wraps this hub instance's `createStepRun` and takes the time when a step run announced by
// that event is stored. No hub code changes.
//
// The agent (protocol-level, finishing every step at once) runs as users run one: in a process of its
// own (bench/remote-agent.ts), so the hub's turn after the commit overlaps the agent's read as it would
// in production. Both marks are on the clock shared by processes (support.ts sharedClockMs). The same
// measurement with the agent in the bench process, on the hub's event loop, is kept as `inProcess`
// (there the agent can read only after the hub's whole turn).
//
// A job of many sequential steps gives many samples per build; the same run also reports the chained
// figure "previous step's Finished sent -> next Assign received" (Finished handling + the same path).

import { finishingAgent, type AssignArrival } from './proto-agent.js';
import type { RemoteAgentConfig, RemoteReply, RemoteRequest } from './remote-agent.js';
import { summarize, type Summary } from './stats.js';
import {
  type BenchStore,
  buildsSettled,
  forkBenchChild,
  sharedClockMs,
  startInProcessHub,
  taskPipeline,
  within,
} from './support.js';

export interface DispatchFigures {
  /** initialize-task published -> Assign received. */
  ready: Summary;
  /** Previous step's Finished sent -> next Assign received (same build). */
  chained: Summary;
}

export interface DispatchResult extends DispatchFigures {
  /** The agent on the hub's process and event loop. */
  inProcess: DispatchFigures;
}

const STEPS_PER_BUILD = 20;
const WARMUP_BUILDS = 2;
const BUILDS = 40;

/** The agent under measurement, wherever it runs. */
interface DispatchAgent {
  welcome: Promise<unknown>;
  /** Every Assign's arrival so far. */
  arrivals: () => Promise<AssignArrival[]>;
  close: () => Promise<void>;
}

function forkedAgent(grpcAddress: string, agentToken: string): DispatchAgent {
  const config: RemoteAgentConfig = { mode: 'dispatch', address: grpcAddress, token: agentToken };
  const child = forkBenchChild<RemoteRequest, RemoteReply>('remote-agent.ts', config);
  return {
    welcome: child.ready.then((m) => {
      if ('error' in m) throw new Error(`dispatch agent: ${m.error}`);
    }),
    async arrivals() {
      const m = await child.ask({ arrivals: true });
      if (!('arrivals' in m)) throw new Error(`dispatch agent: ${JSON.stringify(m)}`);
      return m.arrivals;
    },
    close: () => child.close({ close: true }),
  };
}

function inProcessAgent(grpcAddress: string, agentToken: string): DispatchAgent {
  const { agent, arrivals } = finishingAgent({
    address: grpcAddress,
    token: agentToken,
    name: 'dispatch-agent',
    capacity: 1,
    ownConnection: true,
  });
  return {
    welcome: agent.welcome,
    arrivals: () => Promise.resolve(arrivals),
    close: () => Promise.resolve(agent.close()),
  };
}

async function measureWith(
  storeKind: BenchStore,
  startAgent: (grpcAddress: string, agentToken: string) => DispatchAgent,
): Promise<DispatchFigures> {
  const { hub, api, agentToken, grpcAddress, close } = await startInProcessHub(storeKind);
  /** Per build, when each step became ready (shared clock), in order. */
  const readyAt = new Map<number, number[]>();
  const store = hub.store;
  const createStepRun = store.createStepRun.bind(store);
  // Every argument goes through: the write options carry `deferCommit`, which puts the step run in the
  // commit batch as the hub does; without them each step run committed on its own, before this mark.
  store.createStepRun = async (...args) => {
    const run = await createStepRun(...args);
    const [input, announcement] = args;
    if (announcement?.events.some((e) => e.type === 'initialize-task')) {
      const list = readyAt.get(input.buildId) ?? [];
      list.push(sharedClockMs());
      readyAt.set(input.buildId, list);
    }
    return run;
  };

  const agent = startAgent(grpcAddress, agentToken);
  try {
    await within(30_000, 'dispatch agent welcome', agent.welcome);
    await api.setPipeline('dispatch', taskPipeline('chain', STEPS_PER_BUILD));
    const measured = new Set<number>();
    for (let i = 0; i < WARMUP_BUILDS + BUILDS; i++) {
      const id = await api.trigger('dispatch', 'chain');
      if (i >= WARMUP_BUILDS) measured.add(id);
      // One build at a time, so samples never queue behind each other.
      await within(30_000, 'dispatch build', buildsSettled(hub));
    }
    const ready: number[] = [];
    const chained: number[] = [];
    const seen = new Map<number, number>();
    for (const arrival of await agent.arrivals()) {
      if (!measured.has(arrival.buildId)) continue;
      // Steps run one after another: a build's n-th Assign is its n-th ready step's.
      const n = seen.get(arrival.buildId) ?? 0;
      seen.set(arrival.buildId, n + 1);
      const readyTime = readyAt.get(arrival.buildId)?.[n];
      if (readyTime !== undefined) ready.push(arrival.atMs - readyTime);
      if (arrival.sinceFinishedMs !== undefined) chained.push(arrival.sinceFinishedMs);
    }
    const expected = BUILDS * STEPS_PER_BUILD;
    if (ready.length !== expected)
      throw new Error(`dispatch: expected ${expected} samples, got ${ready.length}`);
    return { ready: summarize(ready), chained: summarize(chained) };
  } finally {
    await agent.close();
    await close();
  }
}

export async function measureDispatch(storeKind: BenchStore): Promise<DispatchResult> {
  const ownProcess = await measureWith(storeKind, forkedAgent);
  return { ...ownProcess, inProcess: await measureWith(storeKind, inProcessAgent) };
}
