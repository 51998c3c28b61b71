// (b) One-step build latency with a real agent: POST trigger -> `status: succeeded` seen on the build's
// SSE stream. The agent is the production one (process pool), so this includes spawning `true`, its
// Started/Finished round trips and the event stream. On the file-backed store (the headline) the hub and
// the agent run as users run them, each a process of its own (`node dist/hub/main.js`,
// `node dist/agent/main.js`), and this process only triggers over HTTP and reads the SSE; the --postgres
// and --memory rows keep both inside this process. The agent's own part comes from its step timelines
// (agent/step-timeline.ts): Assign received -> process spawned (split where the step host takes over: the
// step's dirs and files, the request's trip, the host's fork and exec), process ended -> Finished sent.
// The hub's marks come from its store calls (bench/hub-marks.ts).

import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import pino, { type Logger } from 'pino';
import { startAgent } from '../agent/agent.js';
import { parseAgentConfig } from '../agent/config.js';
import type { StepHops, StepMark } from '../agent/step-timeline.js';
import { kill, spawnAgent, startChildHub } from './child-hub.js';
import {
  attributeHubMarks,
  hubMarksNodeArgs,
  markStoreCalls,
  readHubMarks,
  type HubMark,
} from './hub-marks.js';
import { summarize, type Summary } from './stats.js';
import {
  cpuSeconds,
  type HubApi,
  readUntil,
  sharedClockMs,
  startInProcessHub,
  type BenchStore,
  SUCCEEDED_EVENT,
  taskPipeline,
  waitForAgents,
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
  /**
   * CPU time (user + system, /proc) per measured build of the hub's process and of the agent's (not its
   * step host's, nor the step's): NaN when they run inside the bench process. Unlike the latency it
   * hardly depends on what else the machine runs.
   */
  hubCpuMsPerBuild: number;
  agentCpuMsPerBuild: number;
  /** Where the hub and the agent ran: each in its own process, or both inside the bench process. */
  layout: BuildLayout;
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

/** Where the hub and the agent ran. */
export type BuildLayout = 'processes' | 'in-process';

/** What one measurement needs of its hub and agent, wherever they run. */
interface Harness {
  api: HubApi;
  /** The step timeline the agent logged for build `id` (it logs it once Finished is sent). */
  timelineOf(id: number): Promise<LoggedTimeline | undefined>;
  /** CPU seconds the hub's and the agent's processes used so far, when each has a process of its own. */
  cpuSeconds?(): Promise<{ hub: number; agent: number }>;
}

/** The builds of one measurement: the figures, and every build's trigger time and marks. */
async function runBuilds(h: Harness) {
  await h.api.setPipeline('build', taskPipeline('one', 1, 'true'));
  const samples: number[] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  const parts = { setupMs: [] as number[], deliverMs: [] as number[], forkExecMs: [] as number[] };
  const triggers: number[] = [];
  /** The measured builds' marks, by trigger time. */
  const builds = new Map<number, Map<string, number>>();
  let cpuBefore: { hub: number; agent: number } | undefined;
  for (let i = 0; i < WARMUP + BUILDS; i++) {
    if (i === WARMUP) cpuBefore = await h.cpuSeconds?.();
    const trigger = sharedClockMs();
    triggers.push(trigger);
    const marks = new Map([['trigger', trigger]]);
    const start = performance.now();
    const id = await h.api.trigger('build', 'one');
    marks.set('answered', sharedClockMs());
    const events = await h.api.events(id);
    const ok = await within(30_000, `build ${id}`, readUntil(events, SUCCEEDED_EVENT));
    const elapsed = performance.now() - start;
    marks.set('seen', sharedClockMs());
    await events.cancel();
    if (!ok) throw new Error(`build ${id} ended without succeeding`);
    const logged = await h.timelineOf(id);
    if (i < WARMUP) continue;
    samples.push(elapsed);
    const hops = logged?.timeline;
    for (const [mark, at] of Object.entries(logged?.marks ?? {})) marks.set(mark, at);
    builds.set(trigger, marks);
    if (hops?.assignToSpawnedMs !== undefined) starts.push(hops.assignToSpawnedMs);
    if (hops?.exitedToFinishedMs !== undefined) ends.push(hops.exitedToFinishedMs);
    for (const [hop, list] of Object.entries(parts)) {
      const ms = hops?.[hop as keyof typeof parts];
      if (ms !== undefined) list.push(ms);
    }
  }
  const cpuAfter = await h.cpuSeconds?.();
  const perBuild = (key: 'hub' | 'agent') =>
    cpuBefore && cpuAfter ? ((cpuAfter[key] - cpuBefore[key]) * 1000) / BUILDS : NaN;
  const figures = {
    ...summarize(samples),
    hubCpuMsPerBuild: perBuild('hub'),
    agentCpuMsPerBuild: perBuild('agent'),
    agentStart: summarize(starts),
    agentEnd: summarize(ends),
    agentSetup: summarize(parts.setupMs),
    agentDeliver: summarize(parts.deliverMs),
    agentForkExec: summarize(parts.forkExecMs),
  };
  return { figures, triggers, builds };
}

/**
 * On the file-backed store (the headline), the hub and the agent each run in a process of their own as
 * users run them (`node dist/hub/main.js`, `node dist/agent/main.js -c agent.yaml`), and this process
 * only triggers over HTTP and reads the build's SSE. With --postgres and --memory the hub and the agent
 * run inside this process (labelled rows).
 */
export async function measureBuild(store: BenchStore): Promise<BuildResult> {
  return store === 'file' ? measureInOwnProcesses() : measureInProcess(store);
}

/** Hub and agent children; the agent's step timelines come from its stdout (`--log-level debug`). */
async function measureInOwnProcesses(): Promise<BuildResult> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-bench-build-'));
  const marksFile = path.join(dir, 'hub-marks.json');
  let agent: ChildProcess | undefined;
  try {
    const hub = await startChildHub({ nodeArgs: hubMarksNodeArgs(marksFile) });
    let ran: Awaited<ReturnType<typeof runBuilds>>;
    try {
      await writeFile(path.join(dir, 'token'), hub.agentToken, { mode: 0o600 });
      const config = path.join(dir, 'agent.yaml');
      await writeFile(config, agentConfigYaml(hub.grpcAddress, 'build-agent', path.join(dir, 'work')));
      // The step timeline is a debug line (agent/runner.ts); the agent logs nothing else at debug per step.
      const child = spawnAgent(config, ['--log-level', 'debug']);
      agent = child;
      const timelines = agentTimelines(child);
      await waitForAgents(hub.api, 1, 20_000);
      ran = await runBuilds({
        api: hub.api,
        timelineOf: (id) => within(10_000, `agent's step timeline of build ${id}`, timelines(id)),
        cpuSeconds: async () => ({ hub: await cpuSeconds(hub.pid), agent: await cpuSeconds(child.pid ?? 0) }),
      });
      await kill(child);
      agent = undefined;
    } finally {
      // The hub writes its marks when it exits.
      await hub.close();
    }
    const hubMarks = await readHubMarks(marksFile);
    if (hubMarks) attributeHubMarks(hubMarks, ran.triggers, ran.builds);
    else
      process.stderr.write(
        'bench: build: the hub child wrote no marks (it did not exit on SIGTERM): the hub rows are left out\n',
      );
    return { ...ran.figures, layout: 'processes', timeline: timelineOf([...ran.builds.values()]) };
  } finally {
    if (agent) await kill(agent);
    await rm(dir, { recursive: true, force: true });
  }
}

/** Reads an agent child's JSON log lines and answers each build's step timeline once it is logged. */
function agentTimelines(child: ChildProcess): (buildId: number) => Promise<LoggedTimeline> {
  const logged = new Map<number, LoggedTimeline>();
  const waiting = new Map<number, (t: LoggedTimeline) => void>();
  if (!child.stdout) throw new Error('agent child has no stdout');
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (!line.includes('"step timeline"')) return;
    const entry = JSON.parse(line) as LoggedTimeline & { buildId?: number };
    if (entry.buildId === undefined) return;
    const waiter = waiting.get(entry.buildId);
    if (waiter) {
      waiting.delete(entry.buildId);
      waiter(entry);
    } else logged.set(entry.buildId, entry);
  });
  return (buildId) => {
    const entry = logged.get(buildId);
    if (entry) {
      logged.delete(buildId);
      return Promise.resolve(entry);
    }
    return new Promise((resolve) => waiting.set(buildId, resolve));
  };
}

/** The hub and the real agent (startAgent) inside this process, as before session 13. */
async function measureInProcess(store: BenchStore): Promise<BuildResult> {
  const { hub, api, agentToken, grpcAddress, close } = await startInProcessHub(store);
  const hubMarks: HubMark[] = [];
  markStoreCalls(hub.store, hubMarks);
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
      const ran = await runBuilds({
        api,
        // Logged synchronously, before Finished can reach the hub: the newest is this build's.
        timelineOf: () => Promise.resolve(timelines.splice(0).at(-1)),
      });
      attributeHubMarks(hubMarks, ran.triggers, ran.builds);
      return { ...ran.figures, layout: 'in-process', timeline: timelineOf([...ran.builds.values()]) };
    } finally {
      await agent.stop();
    }
  } finally {
    await close();
    await rm(dir, { recursive: true, force: true });
  }
}
