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
import type { StepHops } from '../agent/step-timeline.js';
import { summarize, type Summary } from './stats.js';
import {
  readUntil,
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
}

/** A logger that drops everything but the agent's step timelines, which it hands to `onHops`. */
function timelineLogger(onHops: (hops: StepHops) => void): Logger {
  return pino(
    { level: 'debug' },
    {
      write(line: string) {
        if (!line.includes('"step timeline"')) return;
        onHops((JSON.parse(line) as { timeline: StepHops }).timeline);
      },
    },
  );
}

export async function measureBuild(store: BenchStore): Promise<BuildResult> {
  const { api, agentToken, grpcAddress, close } = await startInProcessHub(store);
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
    const timelines: StepHops[] = [];
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
        const start = performance.now();
        const id = await api.trigger('build', 'one');
        const events = await api.events(id);
        const ok = await within(30_000, `build ${id}`, readUntil(events, SUCCEEDED_EVENT));
        const elapsed = performance.now() - start;
        await events.cancel();
        if (!ok) throw new Error(`build ${id} ended without succeeding`);
        if (i < WARMUP) continue;
        samples.push(elapsed);
        // Finished is sent (and the timeline logged) before the hub can say the build succeeded.
        const hops = timelines.at(-1);
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
      };
    } finally {
      await agent.stop();
    }
  } finally {
    await close();
    await rm(dir, { recursive: true, force: true });
  }
}
