// Chaos: real hub and agents in this process, the agents dialling through a TCP proxy that, on a
// schedule drawn from a seeded PRNG, cuts every connection, delays traffic and stalls it; some seeds
// also drain the hub mid-build (RunningHub.close(), the code SIGTERM runs: refuse work, GoAway, flush
// log batches, close the store) and start it again. Some seeds add log pressure: a per-session log
// budget so small every session is throttled all the time, a per-build log cap below the build's
// output, or a second (protocol-level) agent spraying logs at the hub the whole time. After each run the build's events must show every log line exactly once and in order per
// step (for capped runs: an in-order prefix per step and exactly one truncation marker), no step run
// twice, the expected final status, no stuck build, and every drain done within DRAIN_BOUND_MS.
//
// Agent SIGKILL/restart faults come with the agent process supervisor: add them as a fault kind in
// `injectFault` below (the agents are in `agents`; restart one with startTestAgent on the same dir).
//
// Replay one seed: CHAOS_SEED=123 npm run test:chaos. Change the number of runs: CHAOS_RUNS=50.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { BuildSummary } from '../../hub/api/types.js';
import { LogStream, Platform } from '../../proto/gen/outpost/v1/agent.js';
import {
  restartTestHub,
  setPipeline,
  shellPipeline,
  startTestAgent,
  startTestHub,
  triggerJob,
  type TestHub,
} from '../support/harness.js';
import { rawAgent } from '../support/raw-agent.js';
import { startTcpProxy } from '../support/tcp-proxy.js';

/** mulberry32: a small, fast, seedable PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const RUNS = Number(process.env.CHAOS_RUNS ?? 20);
/** Runs going on at once: each run is mostly waiting on sleeps and the network. */
const CONCURRENCY = Number(process.env.CHAOS_CONCURRENCY ?? 3);
/** A build not finished this long after its trigger counts as stuck. */
const BUILD_DEADLINE_MS = 15_000;
const TERMINAL = ['succeeded', 'failed', 'errored', 'aborted'];
/** A hub drain (SIGTERM path) must finish within this. */
const DRAIN_BOUND_MS = 10_000;
/** The per-build cap of capped runs: well below the ~20-35 KB the three steps print. */
const CAP_BYTES = 12 * 1024;
const MARKER = 'outpost: build log exceeds 12 KiB; further output of this build is dropped';

type Pressure = 'none' | 'tight-budget' | 'capped' | 'flood';
/** What a flooding agent sprays at most (64 KiB chunks, never waiting for an ack). */
const FLOOD_BYTES = 16 * 1024 * 1024;

function seedsToRun(): number[] {
  if (process.env.CHAOS_SEED) return [Number(process.env.CHAOS_SEED)];
  const base = process.env.CHAOS_BASE_SEED ? Number(process.env.CHAOS_BASE_SEED) : Date.now() % 1_000_000;
  return Array.from({ length: RUNS }, (_, i) => base + i);
}

interface StepPlan {
  name: string;
  lines: number;
  exit: number;
}

interface RunResult {
  seed: number;
  linesSent: number;
  linesStored: number;
  duplicates: number;
  outOfOrder: number;
  doubleRuns: number;
  lostResults: number;
  stuckBuilds: number;
  /** Capped runs: truncation markers found (must be exactly 1). */
  markers: number;
  pressure: Pressure;
  drains: number;
  maxDrainMs: number;
  chaos: string[];
  notes: string[];
  ms: number;
}

/** A step that marks each start in a file outside the agent, then prints numbered lines slowly. */
function stepScript(step: StepPlan, marks: string): string {
  const { name, lines, exit } = step;
  return (
    `echo start >> ${path.join(marks, name)}; echo "START ${name}"; i=1; ` +
    `while [ $i -le ${lines} ]; do echo "${name} $i"; ` +
    `if [ $((i % 100)) -eq 0 ]; then sleep 0.03; fi; i=$((i+1)); done; exit ${exit}`
  );
}

function task(step: StepPlan, marks: string, indent: string): string {
  return `${indent}- task: ${step.name}
${indent}  config:
${indent}    platform: linux
${indent}    run:
${indent}      path: sh
${indent}      args: ['-c', ${JSON.stringify(stepScript(step, marks))}]
`;
}

/** A build's events so far: the SSE stream up to its end, or whatever came within a second. */
async function readEvents(
  hub: TestHub,
  buildId: number,
): Promise<{ event: string; data: Record<string, unknown> }[]> {
  const res = await fetch(`${hub.url}/api/v1/builds/${buildId}/events`, {
    headers: { authorization: `Bearer ${hub.adminToken}` },
  });
  const reader = res.body!.getReader() as ReadableStreamDefaultReader<Uint8Array>;
  const decoder = new TextDecoder();
  const until = Date.now() + 1_000;
  let text = '';
  for (;;) {
    const timeout = sleep(Math.max(0, until - Date.now())).then(() => 'timeout' as const);
    const chunk = await Promise.race([reader.read(), timeout]);
    if (chunk === 'timeout' || chunk.done) break;
    text += decoder.decode(chunk.value, { stream: true });
  }
  await reader.cancel().catch(() => undefined);
  const out: { event: string; data: Record<string, unknown> }[] = [];
  // Only whole blocks: the last one may have been cut off by the timeout.
  for (const block of text.split('\n\n').slice(0, -1)) {
    const data = block.split('\n').find((l) => l.startsWith('data: '));
    if (block.includes('event: event') && data)
      out.push(JSON.parse(data.slice(6)) as { event: string; data: Record<string, unknown> });
  }
  return out;
}

/**
 * A protocol-level agent that takes a step of its own pipeline and sprays 64 KiB log chunks at the hub
 * without waiting for acks, until the run ends or FLOOD_BYTES are out. Resolves `done` with bytes sent.
 */
async function startFlood(
  hub: TestHub,
  stopped: () => boolean,
): Promise<{ done: Promise<number>; close: () => void }> {
  const raw = rawAgent(hub.grpcAddress, await hub.newAgentToken('flood'), {
    agentName: 'flood',
    pools: [
      { name: 'flood', platform: Platform.PLATFORM_LINUX, tags: ['flood'], executor: 'process', capacity: 1 },
    ],
  });
  await raw.next('welcome');
  await setPipeline(hub, 'flood', shellPipeline('true', '    tags: [flood]\n'));
  await triggerJob(hub, 'flood', 'job');
  const { leaseId } = await raw.next('assign');
  raw.send({ msg: { $case: 'accepted', value: { leaseId } } });
  const data = Buffer.alloc(64 * 1024, 'flood\n');
  const state = { ended: false };
  void raw.ended.then(() => (state.ended = true));
  const done = (async () => {
    let sent = 0;
    for (let seq = 1; sent < FLOOD_BYTES && !stopped() && !state.ended; seq++) {
      const ok = raw.call.write({
        msg: {
          $case: 'log',
          value: { leaseId, seq, stream: LogStream.LOG_STREAM_STDOUT, data, atUnixMs: 0 },
        },
      });
      sent += data.length;
      if (!ok)
        await new Promise((resolve) => {
          raw.call.once('drain', resolve);
          void raw.ended.then(resolve);
        });
    }
    return sent;
  })();
  return { done, close: () => raw.close() };
}

async function runSeed(seed: number): Promise<RunResult> {
  const started = Date.now();
  const rng = mulberry32(seed);
  const between = (lo: number, hi: number) => Math.floor(lo + rng() * (hi - lo + 1));
  const agentCount = rng() < 0.5 ? 1 : 2;
  const capacity = between(2, 4);
  const restartHub = rng() < 0.35;
  const pressureRoll = rng();
  // A flooding agent dials the hub directly (not through the proxy) and does not reconnect: not with restarts.
  const pressure: Pressure =
    pressureRoll < 0.15
      ? 'capped'
      : pressureRoll < 0.3
        ? 'tight-budget'
        : pressureRoll < 0.45 && !restartHub
          ? 'flood'
          : 'none';
  const steps: StepPlan[] = [
    { name: 'first', lines: between(800, 1500), exit: 0 },
    { name: 'left', lines: between(500, 1000), exit: 0 },
    { name: 'right', lines: between(500, 1000), exit: rng() < 0.25 ? 3 : 0 },
  ];
  const expected = steps.some((s) => s.exit !== 0) ? 'failed' : 'succeeded';
  const result: RunResult = {
    seed,
    linesSent: steps.reduce((n, s) => n + s.lines, 0),
    linesStored: 0,
    duplicates: 0,
    outOfOrder: 0,
    doubleRuns: 0,
    lostResults: 0,
    stuckBuilds: 0,
    markers: 0,
    pressure,
    drains: 0,
    maxDrainMs: 0,
    chaos: [`agents=${agentCount}x${capacity}`, ...(pressure === 'none' ? [] : [pressure])],
    notes: [],
    ms: 0,
  };

  const marks = await mkdtemp(path.join(os.tmpdir(), 'outpost-chaos-'));
  // A long grace: cuts, stalls and restarts must never expire a lease.
  const state: { hub: TestHub; ready: Promise<void> } = {
    hub: await startTestHub({
      heartbeatMs: 200,
      leaseGraceMs: 60_000,
      ...(pressure === 'tight-budget' ? { maxSessionLogBytes: 16 * 1024 } : {}),
      ...(pressure === 'capped' ? { maxBuildLogBytes: CAP_BYTES } : {}),
    }),
    ready: Promise.resolve(),
  };
  const proxy = await startTcpProxy(state.hub.grpcPort);
  const agents = [];
  for (let i = 1; i <= agentCount; i++) {
    agents.push(
      await startTestAgent(state.hub, {
        name: `agent-${i}`,
        address: `127.0.0.1:${proxy.port}`,
        pools: `  - name: local\n    platform: linux\n    capacity: ${capacity}`,
      }),
    );
  }
  const run = { done: false };
  const stopped = () => run.done;
  let chaosLoop: Promise<void> = Promise.resolve();
  let flood: { done: Promise<number>; close: () => void } | undefined;
  try {
    await Promise.all(agents.map((a) => a.welcomed));
    if (pressure === 'flood') flood = await startFlood(state.hub, stopped);
    const [first, left, right] = steps as [StepPlan, StepPlan, StepPlan];
    await setPipeline(
      state.hub,
      'chaos',
      `jobs:
- name: job
  plan:
${task(first, marks, '  ')}  - in_parallel:
${task(left, marks, '    ')}${task(right, marks, '    ')}`,
    );
    const id = await triggerJob(state.hub, 'chaos', 'job');

    chaosLoop = (async () => {
      // A bounded burst of faults, then the network heals and the build must finish.
      let restarted = false;
      const faults = between(4, 10);
      for (let n = 0; n < faults && !stopped(); n++) {
        await sleep(between(100, 500));
        if (stopped()) break;
        const roll = rng();
        if (restartHub && !restarted && (roll < 0.2 || n === faults - 1)) {
          restarted = true;
          const down = between(50, 600);
          result.chaos.push(`drain+restart(${down}ms)`);
          let release!: () => void;
          state.ready = new Promise((resolve) => (release = resolve));
          const drainStart = Date.now();
          await state.hub.stop();
          result.drains++;
          result.maxDrainMs = Math.max(result.maxDrainMs, Date.now() - drainStart);
          await sleep(down);
          state.hub = await restartTestHub(state.hub);
          release();
        } else if (roll < 0.45) {
          result.chaos.push('cut');
          proxy.cut();
        } else if (roll < 0.7) {
          const ms = rng() < 0.3 ? 0 : between(5, 150);
          result.chaos.push(`delay(${ms}ms)`);
          proxy.setDelay(ms);
        } else {
          // Some stalls outlast three heartbeats, so both sides give up on the session.
          const ms = between(50, 900);
          result.chaos.push(`stall(${ms}ms)`);
          proxy.stall(ms);
        }
      }
      proxy.setDelay(0);
    })();

    const deadline = Date.now() + BUILD_DEADLINE_MS;
    let build: BuildSummary | undefined;
    for (;;) {
      await state.ready;
      const hub = state.hub;
      try {
        build = (await hub.api<BuildSummary>('GET', `/builds/${id}`)).body;
      } catch {
        // The hub is restarting: ask again.
      }
      if (build && TERMINAL.includes(build.status)) break;
      if (Date.now() > deadline) break;
      await sleep(100);
    }
    run.done = true;
    await chaosLoop;
    proxy.setDelay(0);

    if (!build || !TERMINAL.includes(build.status)) {
      result.stuckBuilds++;
      result.notes.push(`build ${id} stuck in ${build?.status}: waitingReason=${build?.waitingReason}`);
    } else if (build.status !== expected) {
      result.lostResults++;
      result.notes.push(`build ended ${build.status}, expected ${expected}`);
    }

    const events = await readEvents(state.hub, id);
    const byPlan = new Map<string, { text: string; startTask: number; selected: number; exit?: number }>();
    const entry = (planId: string) => {
      let e = byPlan.get(planId);
      if (!e) byPlan.set(planId, (e = { text: '', startTask: 0, selected: 0 }));
      return e;
    };
    for (const e of events) {
      const planId = (e.data.origin as { id?: string } | undefined)?.id;
      if (!planId) continue;
      if (e.event === 'log') entry(planId).text += e.data.payload as string;
      if (e.event === 'start-task') entry(planId).startTask++;
      if (e.event === 'selected-worker') entry(planId).selected++;
      if (e.event === 'finish-task') entry(planId).exit = e.data.exit_status as number;
    }
    const capped = pressure === 'capped';
    if (capped) {
      const all = [...byPlan.values()].map((p) => p.text).join('');
      result.markers = all.split(MARKER).length - 1;
      if (result.markers !== 1) result.notes.push(`${result.markers} truncation markers, expected 1`);
      // A step cut off before its START line has no log to find it by: its exit status is in the store.
      const runs = await state.hub.store.listStepRuns(id);
      for (const step of steps) {
        const run = runs.find((r) => r.name === step.name);
        if (build && TERMINAL.includes(build.status) && run?.exitStatus !== step.exit) {
          result.lostResults++;
          result.notes.push(`${step.name}: exit status ${run?.exitStatus}, expected ${step.exit}`);
        }
      }
    }
    for (const step of steps) {
      const found = [...byPlan.values()].filter((p) => p.text.includes(`START ${step.name}\n`));
      const plan = found[0];
      const lines = (plan?.text ?? '').split('\n').filter((l) => l.startsWith(`${step.name} `));
      result.linesStored += lines.length;
      const seen = new Map<number, number>();
      let next = 1;
      for (const line of lines) {
        const n = Number(line.slice(step.name.length + 1));
        seen.set(n, (seen.get(n) ?? 0) + 1);
        if (n !== next) result.outOfOrder++;
        next = n + 1;
      }
      for (const count of seen.values()) result.duplicates += count - 1;
      const missing = step.lines - seen.size;
      if (missing > 0 && !capped) result.notes.push(`${step.name}: ${missing} lines missing`);

      const markers = (plan?.text.match(new RegExp(`^START ${step.name}$`, 'gm')) ?? []).length;
      const processStarts = (await readFile(path.join(marks, step.name), 'utf8').catch(() => ''))
        .split('\n')
        .filter(Boolean).length;
      const starts = Math.max(markers, processStarts, plan?.startTask ?? 0, found.length);
      if (starts > 1) {
        result.doubleRuns += starts - 1;
        result.notes.push(
          `${step.name}: ran ${processStarts}x (log markers ${markers}, start-task ${plan?.startTask}, ` +
            `selected-worker ${plan?.selected})`,
        );
      } else if ((plan?.selected ?? 0) > 1) {
        result.notes.push(`${step.name}: re-queued before it started (selected-worker ${plan?.selected})`);
      }
      if (!capped && plan?.exit !== step.exit && result.stuckBuilds === 0) {
        result.lostResults++;
        result.notes.push(`${step.name}: exit status ${plan?.exit}, expected ${step.exit}`);
      }
    }
    return result;
  } finally {
    run.done = true;
    await chaosLoop.catch(() => undefined);
    result.ms = Date.now() - started;
    if (flood) {
      const sprayed = await flood.done;
      result.chaos.push(`flooded(${Math.round(sprayed / 1024 / 1024)}MiB)`);
      flood.close();
    }
    for (const agent of agents) await agent.stop();
    await proxy.close();
    await state.hub.close();
    await rm(marks, { recursive: true, force: true });
  }
}

/** A run failed if it lost, duplicated or reordered anything, or a drain overran its bound. */
function failedRun(r: RunResult): boolean {
  return (
    r.duplicates + r.outOfOrder + r.doubleRuns + r.lostResults + r.stuckBuilds > 0 ||
    (r.pressure === 'capped' ? r.markers !== 1 : r.linesSent !== r.linesStored) ||
    r.maxDrainMs > DRAIN_BOUND_MS
  );
}

describe('chaos', () => {
  it('loses no line, result or build and runs no step twice under cuts, delays, stalls, drains and log pressure', async () => {
    const seeds = seedsToRun();
    const started = Date.now();
    console.log(`chaos: seeds ${seeds.join(',')} (replay one with CHAOS_SEED=<seed>)`);
    const results: RunResult[] = [];
    const queue = [...seeds];
    await Promise.all(
      Array.from({ length: Math.min(CONCURRENCY, seeds.length) }, async () => {
        for (let seed = queue.shift(); seed !== undefined; seed = queue.shift()) {
          const r = await runSeed(seed);
          results.push(r);
          console.log(
            `chaos: seed=${seed} ${failedRun(r) ? 'FAIL' : 'ok'} ${r.ms}ms lines=${r.linesStored}/${r.linesSent} ` +
              `[${r.chaos.join(' ')}]${r.notes.length ? ` ${r.notes.join('; ')}` : ''}`,
          );
        }
      }),
    );
    const sum = (f: (r: RunResult) => number) => results.reduce((n, r) => n + f(r), 0);
    // Capped runs store less than they send by design: they are checked by their marker instead.
    const uncapped = (f: (r: RunResult) => number) => (r: RunResult) => (r.pressure === 'capped' ? 0 : f(r));
    const total = {
      runs: results.length,
      linesSent: sum(uncapped((r) => r.linesSent)),
      linesStored: sum(uncapped((r) => r.linesStored)),
      duplicates: sum((r) => r.duplicates),
      outOfOrder: sum((r) => r.outOfOrder),
      doubleRuns: sum((r) => r.doubleRuns),
      lostResults: sum((r) => r.lostResults),
      stuckBuilds: sum((r) => r.stuckBuilds),
      badMarkers: sum((r) => (r.pressure === 'capped' && r.markers !== 1 ? 1 : 0)),
      slowDrains: sum((r) => (r.maxDrainMs > DRAIN_BOUND_MS ? 1 : 0)),
    };
    const failed = results.filter(failedRun);
    if (failed.length > 0) console.log(`chaos: failing seeds ${failed.map((r) => r.seed).join(',')}`);
    console.log(
      `chaos: runs=${total.runs} lines_sent=${total.linesSent} lines_stored=${total.linesStored} ` +
        `duplicates=${total.duplicates} double_runs=${total.doubleRuns} lost_results=${total.lostResults} ` +
        `stuck_builds=${total.stuckBuilds} capped_runs=${sum((r) => (r.pressure === 'capped' ? 1 : 0))} ` +
        `bad_markers=${total.badMarkers} tight_budget_runs=${sum((r) => (r.pressure === 'tight-budget' ? 1 : 0))} ` +
        `flood_runs=${sum((r) => (r.pressure === 'flood' ? 1 : 0))} ` +
        `drains=${sum((r) => r.drains)} max_drain_ms=${Math.max(0, ...results.map((r) => r.maxDrainMs))} ` +
        `wall_s=${((Date.now() - started) / 1000).toFixed(1)}`,
    );
    expect(total).toEqual({
      ...total,
      linesStored: total.linesSent,
      duplicates: 0,
      outOfOrder: 0,
      doubleRuns: 0,
      lostResults: 0,
      stuckBuilds: 0,
      badMarkers: 0,
      slowDrains: 0,
    });
  }, 240_000);
});
