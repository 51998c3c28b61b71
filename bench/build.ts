// (b) One-step build latency with a real agent: POST trigger -> `status: succeeded` seen on the build's
// SSE stream. The agent is the production one (startAgent, process pool), so this includes spawning
// `true`, its Started/Finished round trips and the event stream. The agent's own part comes from its
// step timelines (agent/step-timeline.ts): Assign received -> process spawned (split where the step
// host takes over: the step's dirs and files, the request's trip, the host's fork and exec), process
// ended -> Finished sent.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pino, { type Logger } from 'pino';
import { startAgent } from '../agent/agent.js';
import { parseAgentConfig } from '../agent/config.js';
import type { RunningHub } from '../hub/hub.js';
import type { StepHops, StepMark } from '../agent/step-timeline.js';
import { summarize, type Summary } from './stats.js';
import {
  readUntil,
  sharedClockMs,
  startInProcessHub,
  type BenchStore,
  SUCCEEDED_EVENT,
  taskPipeline,
  within,
} from './support.js';

const WARMUP = 10;
const BUILDS = 100;

/** The YAML of an agent with one linux process pool, dialing `address` in plaintext. */
export function agentConfigYaml(address: string, name: string, workDir: string, capacity = 4): string {
  return `hub:
  address: ${address}
  tls:
    insecure_plaintext: true
token_file: token
name: ${name}
cluster: bench
work_dir: ${workDir}
pools:
  - name: local
    platform: linux
    capacity: ${capacity}
`;
}

export interface BuildResult extends Summary {
  /** The agent's part of each measured build: Assign received -> process spawned. */
  agentStart: Summary;
  /** Process ended -> Finished sent. */
  agentEnd: Summary;
  /** Parts of agentStart: the executor asked to start -> the step handed to the step host. */
  agentSetup: Summary;
  /** -> the host read the request. */
  agentDeliver: Summary;
  /** -> the host spawned the process (its state files, fork and exec). */
  agentForkExec: Summary;
  /** A build's marks, hub, agent and client on one clock: p10 and p50 ms after the trigger, in order. */
  timeline: { mark: string; p10: number; p50: number }[];
}

/** The build's marks in the order they happen, with what they say. */
const TIMELINE: [string, string][] = [
  ['built', 'hub: build created'],
  ['leased', 'hub: step run created and leased'],
  ['answered', 'client: trigger answered'],
  ['assigned', 'agent: Assign received'],
  ['handedOver', 'agent: step handed to the step host'],
  ['received', 'host: request read'],
  ['spawned', 'host: process spawned'],
  ['started', 'agent: Started sent'],
  ['startStored', 'hub: Started stored'],
  ['exited', 'host: process exited'],
  ['ended', 'agent: result known'],
  ['finished', 'agent: Finished sent'],
  ['stepEndStored', "hub: step's end stored"],
  ['buildEndStored', "hub: build's end stored"],
  ['seen', 'client: `succeeded` seen on SSE'],
];

/** p10 and p50 of each mark's time after its build's trigger. */
function timelineOf(builds: Map<string, number>[]): BuildResult['timeline'] {
  return TIMELINE.flatMap(([key, mark]) => {
    const after = builds.flatMap((b) => {
      const at = b.get(key);
      const trigger = b.get('trigger');
      return at === undefined || trigger === undefined ? [] : [at - trigger];
    });
    if (after.length === 0) return [];
    const sorted = after.sort((a, b) => a - b);
    return [{ mark, p10: sorted[Math.floor(sorted.length / 10)] ?? NaN, p50: summarize(sorted).p50 }];
  });
}

/** Marks the hub's store calls of a build on the shared clock (the first of each kind per build). */
function markStoreCalls(store: RunningHub['store'], marks: () => Map<string, number>): void {
  const once = (key: string) => {
    if (!marks().has(key)) marks().set(key, sharedClockMs());
  };
  const wrap = <
    K extends 'createBuild' | 'createStepRun' | 'markStepProcessStarted' | 'updateStepRun' | 'updateBuild',
  >(
    name: K,
    key: (...args: Parameters<RunningHub['store'][K]>) => string | undefined,
  ) => {
    const original = (store[name] as (...args: unknown[]) => Promise<unknown>).bind(store);
    (store[name] as (...args: unknown[]) => Promise<unknown>) = async (...args: unknown[]) => {
      const result = await original(...args);
      const k = key(...(args as Parameters<RunningHub['store'][K]>));
      if (k) once(k);
      return result;
    };
  };
  wrap('createBuild', () => 'built');
  wrap('createStepRun', () => 'leased');
  wrap('markStepProcessStarted', () => 'startStored');
  wrap('updateStepRun', (_id, _lease, patch) => (patch.endedAt === undefined ? undefined : 'stepEndStored'));
  wrap('updateBuild', (_id, patch) => (patch.endedAt === undefined ? undefined : 'buildEndStored'));
}

interface LoggedTimeline {
  timeline: StepHops;
  /** On the clock shared by processes. */
  marks: Partial<Record<StepMark, number>>;
}

/** A logger that drops everything but the agent's step timelines, which it hands to `onTimeline`. */
function timelineLogger(onTimeline: (logged: LoggedTimeline) => void): Logger {
  return pino(
    { level: 'debug' },
    {
      write(line: string) {
        if (!line.includes('"step timeline"')) return;
        onTimeline(JSON.parse(line) as LoggedTimeline);
      },
    },
  );
}

export async function measureBuild(store: BenchStore): Promise<BuildResult> {
  const { hub, api, agentToken, grpcAddress, close } = await startInProcessHub(store);
  let marks = new Map<string, number>();
  const builds: Map<string, number>[] = [];
  markStoreCalls(hub.store, () => marks);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-bench-agent-'));
  try {
    await writeFile(path.join(dir, 'token'), agentToken, { mode: 0o600 });
    const config = parseAgentConfig(agentConfigYaml(grpcAddress, 'build-agent', 'work'), {
      file: path.join(dir, 'agent.yaml'),
      env: {},
      hostname: os.hostname(),
      cpus: os.availableParallelism(),
      platform: process.platform,
      tmpdir: dir,
    });
    const timelines: LoggedTimeline[] = [];
    const agent = await startAgent(
      config,
      timelineLogger((hops) => timelines.push(hops)),
    );
    try {
      await within(10_000, 'build agent welcome', agent.welcomed);
      await api.setPipeline('build', taskPipeline('one', 1, 'true'));
      const samples: number[] = [];
      const starts: number[] = [];
      const ends: number[] = [];
      const parts = { setupMs: [] as number[], deliverMs: [] as number[], forkExecMs: [] as number[] };
      for (let i = 0; i < WARMUP + BUILDS; i++) {
        timelines.length = 0;
        marks = new Map([['trigger', sharedClockMs()]]);
        const start = performance.now();
        const id = await api.trigger('build', 'one');
        marks.set('answered', sharedClockMs());
        const events = await api.events(id);
        const ok = await within(30_000, `build ${id}`, readUntil(events, SUCCEEDED_EVENT));
        const elapsed = performance.now() - start;
        marks.set('seen', sharedClockMs());
        await events.cancel();
        if (!ok) throw new Error(`build ${id} ended without succeeding`);
        if (i < WARMUP) continue;
        samples.push(elapsed);
        // Finished is sent (and the timeline logged) before the hub can say the build succeeded.
        const logged = timelines.at(-1);
        const hops = logged?.timeline;
        for (const [mark, at] of Object.entries(logged?.marks ?? {})) marks.set(mark, at);
        builds.push(marks);
        if (hops?.assignToSpawnedMs !== undefined) starts.push(hops.assignToSpawnedMs);
        if (hops?.exitedToFinishedMs !== undefined) ends.push(hops.exitedToFinishedMs);
        for (const [hop, list] of Object.entries(parts)) {
          const ms = hops?.[hop as keyof typeof parts];
          if (ms !== undefined) list.push(ms);
        }
      }
      return {
        ...summarize(samples),
        agentStart: summarize(starts),
        agentEnd: summarize(ends),
        agentSetup: summarize(parts.setupMs),
        agentDeliver: summarize(parts.deliverMs),
        agentForkExec: summarize(parts.forkExecMs),
        timeline: timelineOf(builds),
      };
    } finally {
      await agent.stop();
    }
  } finally {
    await close();
    await rm(dir, { recursive: true, force: true });
  }
}
