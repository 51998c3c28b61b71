// `npm run bench [-- --json FILE]`: runs every measurement in order on loopback, prints a table with
// each figure beside its floor and target, and optionally writes the figures as flat JSON.
//
// Exit status: 1 on a correctness failure (lost, duplicated or reordered log lines) or when a
// measurement could not complete; a missed performance target is reported but never fails the run.

import { writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { BIG_LOG_RSS_BOUND_MB, measureBigLog, type BigLogResult } from './biglog.js';
import { measureBuild, type BuildResult } from './build.js';
import { measureDispatch, type DispatchResult } from './dispatch.js';
import { measureFloor, type FloorResult } from './floor.js';
import { measureKubeData, type KubeDataResult } from './k8s-data.js';
import { measureLogs, type LogsResult } from './logs.js';
import { ensureBuilt } from './child-hub.js';
import { measureMemory, type MemoryResult } from './memory.js';
import type { ManyAgentsResult } from './many-agents.js';
import { fmt, MB, ratio, renderTable, type Row, type Summary } from './stats.js';
import { measureStepsMemory, type StepsMemoryResult } from './steps-memory.js';
import { replicaFigures, replicaRows, runReplicas, type ReplicasResult } from './replicas-report.js';
import { postgresMissing, STORE_LABELS, type BenchStore } from './support.js';
import { measureThroughput, type ThroughputResult } from './throughput.js';
import { measureUi, uiUnavailable, type UiResult } from './ui.js';

// Issue #20's targets for this 2-core machine with a file-backed store (and #16's for the UI).
const TARGETS = {
  dispatchRttRatio: 3,
  buildP50Ms: 20,
  stepsPerS: 1000,
  logMbPerS: 100,
  agentIdleRssMb: 80,
  hubRssMb10000Agents: 1024,
  agentRssMbPerRunningStep: 5,
  uiNewestLineMs: 1000,
  uiRendererRssMb: 300,
};

/** The figures of the in-process hub: measured once per store. */
interface HubFigures {
  dispatch?: DispatchResult;
  build?: BuildResult;
  throughput?: ThroughputResult;
}

interface Results extends HubFigures {
  floor?: FloorResult;
  /** Extra rows from `--memory`: the same figures with a SQLite `:memory:` store. */
  inMemory?: HubFigures;
  /** Extra rows from `--postgres`: the same figures with the hub on PostgreSQL. */
  onPostgres?: HubFigures;
  logs?: LogsResult;
  memory?: MemoryResult;
  /** 50 and 500 concurrent steps on one agent. */
  stepsMemory?: StepsMemoryResult[];
  bigLog?: BigLogResult;
  ui?: UiResult;
  kubeData?: KubeDataResult;
  /** `--replicas 1,3`: hub replicas as child processes on one durable PostgreSQL. */
  replicas?: ReplicasResult[];
}

let failed = false;

/** Runs one measurement; a failure is reported and the run goes on with the next one. */
async function step<T>(name: string, measure: () => Promise<T>): Promise<T | undefined> {
  process.stderr.write(`bench: ${name}...`);
  const start = performance.now();
  try {
    const result = await measure();
    process.stderr.write(` ${((performance.now() - start) / 1000).toFixed(1)} s\n`);
    return result;
  } catch (err) {
    failed = true;
    process.stderr.write(` FAILED: ${(err as Error).stack ?? String(err)}\n`);
    return undefined;
  }
}

const ms = (s: Summary | undefined) => (s ? `${fmt(s.p50)}/${fmt(s.p99)} ms` : 'n/a');
const num = (v: number | undefined, unit = '') => (v === undefined ? 'n/a' : `${fmt(v)}${unit}`);
const atMost = (v: number | undefined, limit: number) => (v === undefined ? undefined : v <= limit);
const atLeast = (v: number | undefined, limit: number) => (v === undefined ? undefined : v >= limit);

/** The in-process hub's rows; the extra stores' say so in their name as well as in the store column. */
function hubRows(h: HubFigures, floor: FloorResult | undefined, store: BenchStore): Row[] {
  const tag = { file: '', postgres: ' [postgresql]', memory: ' [:memory:]' }[store];
  // Where the build rows' hub and agent ran (bench/build.ts): as users run them, or in the bench process.
  const buildLayout =
    h.build?.layout === 'in-process'
      ? 'hub and agent in the bench process'
      : 'hub and agent in their own processes';
  const rtt = floor?.rtt.p50;
  const rttInProcess = floor?.rttInProcess.p50;
  /** A figure shown for what it says: no floor, no target. */
  const shown = (metric: string, value: string): Row => ({
    metric,
    value,
    floor: '',
    ratio: '',
    target: '',
    store: STORE_LABELS[store],
    pass: undefined,
  });
  return [
    {
      metric: `dispatch p50 / p99 (initialize-task -> Assign; agent in its own process)${tag}`,
      value: ms(h.dispatch?.ready),
      floor: num(rtt, ' ms RTT'),
      ratio: ratio(h.dispatch?.ready.p50 ?? NaN, rtt),
      target: `<= ${TARGETS.dispatchRttRatio}x RTT`,
      store: STORE_LABELS[store],
      pass: rtt === undefined ? undefined : atMost(h.dispatch?.ready.p50, TARGETS.dispatchRttRatio * rtt),
    },
    {
      metric: `dispatch p50 / p99 (Finished sent -> next Assign; agent in its own process)${tag}`,
      value: ms(h.dispatch?.chained),
      floor: num(rtt, ' ms RTT'),
      ratio: ratio(h.dispatch?.chained.p50 ?? NaN, rtt),
      target: '',
      store: STORE_LABELS[store],
      pass: undefined,
    },
    {
      // Before session 11 the only dispatch figure: the agent reads only after the hub's whole turn.
      metric: `dispatch p50 / p99 (initialize-task -> Assign; agent in the hub's process)${tag}`,
      value: ms(h.dispatch?.inProcess.ready),
      floor: num(rttInProcess, ' ms RTT, one process'),
      ratio: ratio(h.dispatch?.inProcess.ready.p50 ?? NaN, rttInProcess),
      target: '',
      store: STORE_LABELS[store],
      pass: undefined,
    },
    {
      metric: `dispatch p50 / p99 (Finished sent -> next Assign; agent in the hub's process)${tag}`,
      value: ms(h.dispatch?.inProcess.chained),
      floor: num(rttInProcess, ' ms RTT, one process'),
      ratio: ratio(h.dispatch?.inProcess.chained.p50 ?? NaN, rttInProcess),
      target: '',
      store: STORE_LABELS[store],
      pass: undefined,
    },
    {
      metric: `build p50 / p99 (trigger -> succeeded, \`true\`; ${buildLayout})${tag}`,
      value: ms(h.build),
      // Dominated by spawning a process: a ratio to the RTT would say nothing.
      floor: '',
      ratio: '',
      target: `p50 <= ${TARGETS.buildP50Ms} ms`,
      store: STORE_LABELS[store],
      pass: atMost(h.build?.p50, TARGETS.buildP50Ms),
    },
    // From the agent's step timelines (agent/step-timeline.ts): where the agent's part of a build goes.
    shown(
      `build: agent, Assign -> process spawned; process ended -> Finished sent, p50 / p99${tag}`,
      h.build ? `${ms(h.build.agentStart)}; ${ms(h.build.agentEnd)}` : 'n/a',
    ),
    // Only with the hub and the agent in processes of their own (/proc): the figure to compare on a busy machine.
    shown(
      `build: CPU per build, hub process / agent process (not its step host)${tag}`,
      h.build && h.build.layout === 'processes'
        ? `${fmt(h.build.hubCpuMsPerBuild)} ms / ${fmt(h.build.agentCpuMsPerBuild)} ms`
        : 'n/a',
    ),
    // The same start, split where the step host takes over (agent/step-timeline.ts).
    shown(
      `build: agent start, p50: step dirs and files; to the step host; host's fork+exec${tag}`,
      h.build
        ? [h.build.agentSetup, h.build.agentDeliver, h.build.agentForkExec]
            .map((s) => `${fmt(s.p50)} ms`)
            .join('; ')
        : 'n/a',
    ),
    {
      metric: `steps/s (one-step builds, instant agents; steady: the hub ran ${h.throughput ? h.throughput.buildsBefore.toLocaleString('en-US') : 'its warm-up and cold'} builds before)${tag}`,
      value: num(h.throughput?.stepsPerS),
      floor: '',
      ratio: '',
      target: `>= ${TARGETS.stepsPerS}`,
      store: STORE_LABELS[store],
      pass: atLeast(h.throughput?.stepsPerS, TARGETS.stepsPerS),
    },
    {
      // What steps/s would be if the hub had one core to itself: the figure to compare on a busy machine.
      metric: `steps/s: hub process CPU per step (${h.throughput?.hubProcess === 'in-process' ? 'hub inside the bench process' : 'node dist/hub/main.js'})${tag}`,
      value: num(h.throughput?.hubCpuMsPerStep, ' ms'),
      floor: '',
      ratio: '',
      target: `<= ${fmt(1000 / TARGETS.stepsPerS)} ms`,
      store: STORE_LABELS[store],
      pass: undefined,
    },
    // The machine's speed around the steady run: the hub's CPU per step follows it (floor.ts).
    shown(
      `steps/s: machine reference before / after the steady run (3 M small JS objects, a fresh process)${tag}`,
      h.throughput
        ? `${fmt(h.throughput.machineRefMs.before)} / ${fmt(h.throughput.machineRefMs.after)} ms`
        : 'n/a',
    ),
    // The same hub's first timed builds: V8 still compiling its code, its WAL file growing.
    shown(
      `steps/s, cold (the hub's first ${h.throughput ? `${h.throughput.cold.builds.toLocaleString('en-US')} ` : ''}timed builds); its hub CPU per step${tag}`,
      h.throughput
        ? `${num(h.throughput.cold.stepsPerS)}; ${num(h.throughput.cold.hubCpuMsPerStep, ' ms')}`
        : 'n/a',
    ),
    // One build's marks on one clock (hub, agent, step host, client), in the order they happen.
    ...(h.build?.timeline ?? []).map((t) =>
      shown(
        `build timeline (${buildLayout}), p10 / p50 ms after the trigger: ${t.mark}${tag}`,
        `${fmt(t.p10)} / ${fmt(t.p50)}`,
      ),
    ),
    shown(
      `steps/s: load generator CPU per step (20 protocol agents, HTTP client; own process)${tag}`,
      num(h.throughput?.loadCpuMsPerStep, ' ms'),
    ),
  ];
}

function table(r: Results): Row[] {
  const rtt = r.floor?.rtt.p50;
  const stream = r.floor?.streamMbPerS;
  const logs = r.logs;
  const linesOk = logs ? logs.linesSent === logs.linesReceived && logs.linesWrong === 0 : undefined;
  const mem = r.memory;
  const rows: Row[] = [
    {
      metric: 'floor: bare gRPC RTT p50 / p99 (client in its own process)',
      value: ms(r.floor?.rtt),
      floor: '',
      ratio: '',
      target: '',
      pass: undefined,
    },
    {
      metric: 'floor: bare gRPC RTT p50 / p99 (client and server in one process)',
      value: ms(r.floor?.rttInProcess),
      floor: '',
      ratio: '',
      target: '',
      pass: undefined,
    },
    {
      metric: 'floor: bare gRPC stream',
      value: num(stream, ' MB/s'),
      floor: '',
      ratio: '',
      target: '',
      pass: undefined,
    },
    ...hubRows(r, r.floor, 'file'),
    {
      metric: 'logs agent -> hub -> SSE',
      value: num(logs?.mbPerS, ' MB/s'),
      floor: num(stream, ' MB/s'),
      ratio: ratio(logs?.mbPerS ?? NaN, stream),
      target: `>= ${TARGETS.logMbPerS} MB/s`,
      pass: atLeast(logs?.mbPerS, TARGETS.logMbPerS),
    },
    {
      metric: 'logs agent -> hub (acknowledged)',
      value: num(logs?.ackMbPerS, ' MB/s'),
      floor: num(stream, ' MB/s'),
      ratio: ratio(logs?.ackMbPerS ?? NaN, stream),
      target: '',
      pass: undefined,
    },
    {
      // Payload over the hub process's own CPU time while the log streamed: what one hub core sustains,
      // and a figure that holds up on a busy machine where the wall-clock ones do not.
      metric: 'logs: payload per hub CPU second',
      value: num(logs?.hubCpuMbPerS, ' MB/s'),
      floor: '',
      ratio: '',
      target: '',
      pass: undefined,
    },
    {
      // The agent and the watcher share the 2 cores with the hub: what their process spent bounds the
      // wall-clock figure above as much as the hub's own CPU does.
      metric: 'logs: payload per agent + watcher CPU second (own process)',
      value: num(logs?.streamerCpuMbPerS, ' MB/s'),
      floor: '',
      ratio: '',
      target: '',
      pass: undefined,
    },
    {
      metric: 'logs: chunks per hub store transaction',
      value: num(logs?.chunksPerBatch),
      floor: '',
      ratio: '',
      target: '',
      pass: undefined,
    },
    {
      metric: 'log lines sent / received / wrong',
      value: logs ? `${logs.linesSent}/${logs.linesReceived}/${logs.linesWrong}` : 'n/a',
      floor: '',
      ratio: '',
      target: 'exactly once, in order',
      pass: linesOk,
      correctness: true,
    },
    {
      metric: 'agent idle RSS',
      value: num(mem?.agentIdleRssMb, ' MB'),
      floor: '',
      ratio: '',
      target: `<= ${TARGETS.agentIdleRssMb} MB`,
      pass: atMost(mem?.agentIdleRssMb, TARGETS.agentIdleRssMb),
    },
    {
      metric: 'hub RSS, no agents',
      value: num(mem?.hubIdleRssMb, ' MB'),
      floor: '',
      ratio: '',
      target: '',
      pass: undefined,
    },
    {
      metric: 'hub RSS, 1,000 idle agents',
      value: num(mem?.hubRssMb1000Agents, ' MB'),
      floor: '',
      ratio: '',
      target: '',
      pass: undefined,
    },
    {
      metric: `hub RSS, ${mem?.agents ?? 10000} idle agents (peak)${manyAgentsLabel(mem?.manyAgents)}`,
      value: mem ? `${fmt(mem.hubRssMb10000Agents)} MB (${fmt(mem.hubPeakRssMb)})` : 'n/a',
      floor: '',
      ratio: '',
      target: `<= ${TARGETS.hubRssMb10000Agents} MB`,
      pass: atMost(mem?.hubRssMb10000Agents, TARGETS.hubRssMb10000Agents),
    },
    {
      metric: `hub CPU, ${mem?.agents ?? 10000} idle agents heartbeating${manyAgentsLabel(mem?.manyAgents)}`,
      value: mem
        ? `${fmt(mem.hubIdleCpuPercent10000Agents)} % of a core (agents' processes ${fmt(mem.manyAgents.swarmCpuPercent)} %)`
        : 'n/a',
      floor: '',
      ratio: '',
      target: '',
      pass: undefined,
    },
    ...(r.stepsMemory ?? []).map((m): Row => ({
      metric: `agent RSS per running step (${m.steps} sleeping, process executor)`,
      value: `${fmt(m.perStepMb)} MB (${fmt(m.runningRssMb)} running, ${fmt(m.agentIdleRssMb)} idle; all started in ${fmt(m.startSeconds)} s, ${fmt(m.startCpuSeconds)} CPU s; ${fmt(m.runningCpuPercent)}% of a core while they sleep)`,
      floor: '',
      ratio: '',
      target: `<= ${TARGETS.agentRssMbPerRunningStep} MB`,
      pass: atMost(m.perStepMb, TARGETS.agentRssMbPerRunningStep),
    })),
    ...bigLogRows(r.bigLog),
    ...uiRows(r.ui),
    ...kubeDataRows(r.kubeData),
  ];
  // The logs, memory and big-log figures come from child hubs (bench/child-hub.ts), always on a data dir.
  const withStore = rows.map((row) =>
    row.metric.startsWith('floor:') ? row : { store: STORE_LABELS.file, ...row },
  );
  return [
    ...withStore,
    ...(r.onPostgres ? hubRows(r.onPostgres, r.floor, 'postgres') : []),
    ...(r.inMemory ? hubRows(r.inMemory, r.floor, 'memory') : []),
    ...replicaRows(r.replicas ?? [], rtt),
  ];
}

function uiRows(u: UiResult | undefined): Row[] {
  const lines = u ? `${fmt(u.lines)} lines` : '1,000,000 lines';
  const row = (metric: string, value: string, floor = '', ratioText = ''): Row => ({
    metric,
    value,
    floor,
    ratio: ratioText,
    target: '',
    pass: undefined,
  });
  return [
    {
      metric: `ui: build page, newest line on screen (${lines})`,
      value: num(u?.newestLineMs, ' ms'),
      floor: num(u?.floorMs, ' ms (1-line build)'),
      ratio: ratio(u?.newestLineMs ?? NaN, u?.floorMs),
      target: `< ${TARGETS.uiNewestLineMs} ms`,
      pass: u ? u.newestLineMs < TARGETS.uiNewestLineMs : undefined,
    },
    row(
      'ui: the same, first open after a hub restart (the hub indexes the log)',
      num(u?.firstNewestLineMs, ' ms'),
    ),
    row(
      "ui: hub's newest page with line index, first / later / first after restart",
      u
        ? `${fmt(u.hubPage.firstMs)} / ${fmt(u.hubPage.laterMs)} / ${fmt(u.hubPage.afterRestartMs)} ms`
        : 'n/a',
      num(u?.hubPage.afterRestartFloorMs, ' ms (1-line build, after restart)'),
    ),
    row('ui: go to the top (g), line 1 painted', num(u?.topMs, ' ms')),
    row(
      'ui: jump to a random line, fetched and painted p50 / p99',
      ms(u?.jump),
      num(u?.frameFloor.p50, ' ms (2 idle frames)'),
      ratio(u?.jump.p50 ?? NaN, u?.frameFloor.p50),
    ),
    {
      metric: "ui: page's renderer RSS after the jumps (private; JS heap)",
      value: u ? `${fmt(u.memory.rssMb)} MB (${fmt(u.memory.privateMb)}; ${fmt(u.jsHeapMb)})` : 'n/a',
      floor: u ? `${fmt(u.floorMemory.rssMb)} MB (${fmt(u.floorMemory.privateMb)}) 1-line build` : '',
      ratio: ratio(u?.memory.rssMb ?? NaN, u?.floorMemory.rssMb),
      target: `< ${TARGETS.uiRendererRssMb} MB`,
      pass: u ? u.memory.rssMb < TARGETS.uiRendererRssMb : undefined,
    },
    row(
      'ui: all renderers RSS summed (spares too; the figure before)',
      num(u?.memory.allRssMb, ' MB'),
      num(u?.floorMemory.allRssMb, ' MB (1-line build)'),
    ),
  ];
}

/** All the output up to the cap is stored, less at most one chunk (64 KiB) that did not fit. */
const bigLogStoredOk = (b: BigLogResult) =>
  b.storedBytes <= b.capBytes && b.storedBytes >= Math.min(b.printedBytes, b.capBytes - 64 * 1024);

/** (i): both Kubernetes data paths, on the fake cluster (bench/k8s-data.ts). */
function kubeDataRows(k: KubeDataResult | undefined): Row[] {
  const size = k ? `${fmt(k.bytes / MB)} MB` : '64 MB';
  const row = (metric: string, value: string): Row => ({
    metric,
    value,
    floor: '',
    ratio: '',
    target: '',
    pass: undefined,
  });
  return (['api', 'agent'] as const).flatMap((p) => {
    const f = k?.[p];
    const name = `k8s data_path ${p} (fake cluster), ${size} in + out`;
    return [
      row(`${name}: inputs / outputs MB/s`, f ? `${fmt(f.inputsMbPerS)} / ${fmt(f.outputsMbPerS)}` : 'n/a'),
      row(
        `${name}: per step, API server requests (MB) / data endpoint requests`,
        f
          ? `${fmt(f.apiRequestsPerStep)} (${fmt(f.apiStreamMbPerStep)} MB) / ${fmt(f.endpointRequestsPerStep)}`
          : 'n/a',
      ),
    ];
  });
}

function bigLogRows(b: BigLogResult | undefined): Row[] {
  const size = b ? `${fmt(b.printedBytes / MB)} MB` : '1 GiB';
  const row = (metric: string, value: string, target = '', pass?: boolean, correctness = false): Row => ({
    metric,
    value,
    floor: '',
    ratio: '',
    target,
    pass,
    ...(correctness ? { correctness } : {}),
  });
  const bounded = (v: number | undefined) => (v === undefined ? undefined : v < BIG_LOG_RSS_BOUND_MB);
  return [
    row(
      `step printing ${size}: hub peak RSS (idle)`,
      b ? `${fmt(b.hubPeakRssMb)} MB (${fmt(b.hubIdleRssMb)})` : 'n/a',
      `< ${BIG_LOG_RSS_BOUND_MB} MB`,
      bounded(b?.hubPeakRssMb),
    ),
    row(
      `step printing ${size}: agent peak RSS (idle)`,
      b ? `${fmt(b.agentPeakRssMb)} MB (${fmt(b.agentIdleRssMb)})` : 'n/a',
      `< ${BIG_LOG_RSS_BOUND_MB} MB`,
      bounded(b?.agentPeakRssMb),
    ),
    row(`step printing ${size}: step host peak RSS`, num(b?.supervisorPeakRssMb, ' MB')),
    row(
      `step printing ${size}: log stored / cap`,
      b ? `${fmt(b.storedBytes / MB)} / ${fmt(b.capBytes / MB)} MB` : 'n/a',
      '<= cap',
      b ? bigLogStoredOk(b) : undefined,
      true,
    ),
    row(
      `step printing ${size}: truncation markers, build status`,
      b ? `${b.markers}, ${b.status}` : 'n/a',
      `${b && b.printedBytes <= b.capBytes ? 0 : 1}, succeeded`,
      b ? b.markers === (b.printedBytes > b.capBytes ? 1 : 0) && b.status === 'succeeded' : undefined,
      true,
    ),
    row(
      `step printing ${size}: run time (printed MB/s)`,
      b ? `${fmt(b.seconds)} s (${fmt(b.printedBytes / MB / b.seconds)})` : 'n/a',
    ),
    row(
      `step printing ${size}: printed MB per CPU s, hub / agent`,
      b ? `${fmt(b.hubCpuMbPerS)} / ${fmt(b.agentCpuMbPerS)}` : 'n/a',
    ),
    row(
      `step printing ${size}: agent spill file, hub DB file`,
      b ? `${fmt(b.spillFileMb)} MB, ${fmt(b.dbFileMb)} MB` : 'n/a',
    ),
  ];
}

const v = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? null : Number(x.toFixed(4)));

function hubFigures(h: HubFigures, suffix = ''): Record<string, number | string | null> {
  const f: Record<string, number | string | null> = {
    dispatch_p50_ms: v(h.dispatch?.ready.p50),
    dispatch_p99_ms: v(h.dispatch?.ready.p99),
    dispatch_samples: v(h.dispatch?.ready.n),
    dispatch_chained_p50_ms: v(h.dispatch?.chained.p50),
    dispatch_chained_p99_ms: v(h.dispatch?.chained.p99),
    // The figures above with the agent in its own process; these with it in the hub's.
    dispatch_in_process_p50_ms: v(h.dispatch?.inProcess.ready.p50),
    dispatch_in_process_p99_ms: v(h.dispatch?.inProcess.ready.p99),
    dispatch_in_process_chained_p50_ms: v(h.dispatch?.inProcess.chained.p50),
    dispatch_in_process_chained_p99_ms: v(h.dispatch?.inProcess.chained.p99),
    build_p50_ms: v(h.build?.p50),
    build_p99_ms: v(h.build?.p99),
    build_samples: v(h.build?.n),
    build_agent_start_p50_ms: v(h.build?.agentStart.p50),
    build_agent_start_p99_ms: v(h.build?.agentStart.p99),
    build_agent_end_p50_ms: v(h.build?.agentEnd.p50),
    build_agent_end_p99_ms: v(h.build?.agentEnd.p99),
    build_agent_setup_p50_ms: v(h.build?.agentSetup.p50),
    build_agent_deliver_p50_ms: v(h.build?.agentDeliver.p50),
    build_agent_fork_exec_p50_ms: v(h.build?.agentForkExec.p50),
    // Null unless the hub and the agent ran in processes of their own.
    build_hub_cpu_ms_per_build: v(h.build?.hubCpuMsPerBuild),
    build_agent_cpu_ms_per_build: v(h.build?.agentCpuMsPerBuild),
    // Where the build figures' hub and agent ran (session 13: their own processes on the file store).
    build_layout: h.build
      ? h.build.layout === 'processes'
        ? 'hub and agent in their own processes'
        : 'hub and agent in the bench process'
      : null,
    steps_per_s: v(h.throughput?.stepsPerS),
    steps_builds: v(h.throughput?.builds),
    steps_hub_cpu_ms_per_step: v(h.throughput?.hubCpuMsPerStep),
    steps_load_generator_cpu_ms_per_step: v(h.throughput?.loadCpuMsPerStep),
    steps_machine_ref_ms_before: v(h.throughput?.machineRefMs.before),
    steps_machine_ref_ms_after: v(h.throughput?.machineRefMs.after),
    // The steady run above follows this many builds on the same hub; the cold run is its first timed ones.
    steps_builds_before: v(h.throughput?.buildsBefore),
    steps_per_s_cold: v(h.throughput?.cold.stepsPerS),
    steps_hub_cpu_ms_per_step_cold: v(h.throughput?.cold.hubCpuMsPerStep),
    steps_load_generator_cpu_ms_per_step_cold: v(h.throughput?.cold.loadCpuMsPerStep),
    // Which process `steps_hub_cpu_ms_per_step` is; the agents and HTTP client are always another one.
    steps_hub_process: h.throughput
      ? h.throughput.hubProcess === 'child'
        ? 'node dist/hub/main.js, own process'
        : 'in the bench process'
      : null,
  };
  return Object.fromEntries(Object.entries(f).map(([k, x]) => [k + suffix, x]));
}

/**
 * Flat JSON. `store` names the store behind every figure except those ending in `_postgres` or
 * `_memory`, the extra `--postgres` and `--memory` rows; `store_postgres` and `store_memory` name theirs.
 */
function figures(r: Results, seconds: number): Record<string, number | string | null> {
  return {
    store: STORE_LABELS.file,
    ...(r.onPostgres ? { store_postgres: STORE_LABELS.postgres } : {}),
    ...(r.inMemory ? { store_memory: STORE_LABELS.memory } : {}),
    floor_rtt_p50_ms: v(r.floor?.rtt.p50),
    floor_rtt_p99_ms: v(r.floor?.rtt.p99),
    // The round trip above has its client in a process of its own, as dispatch's agent; this one not.
    floor_rtt_in_process_p50_ms: v(r.floor?.rttInProcess.p50),
    floor_rtt_in_process_p99_ms: v(r.floor?.rttInProcess.p99),
    floor_stream_mb_per_s: v(r.floor?.streamMbPerS),
    ...hubFigures(r),
    log_mb_per_s: v(r.logs?.mbPerS),
    log_ack_mb_per_s: v(r.logs?.ackMbPerS),
    log_hub_cpu_mb_per_s: v(r.logs?.hubCpuMbPerS),
    log_streamer_cpu_mb_per_s: v(r.logs?.streamerCpuMbPerS),
    log_chunks_per_batch: v(r.logs?.chunksPerBatch),
    log_payload_mb: v(r.logs?.payloadMb),
    log_chunks: v(r.logs?.chunks),
    log_lines_sent: v(r.logs?.linesSent),
    log_lines_received: v(r.logs?.linesReceived),
    log_lines_wrong: v(r.logs?.linesWrong),
    agent_idle_rss_mb: v(r.memory?.agentIdleRssMb),
    hub_idle_rss_mb: v(r.memory?.hubIdleRssMb),
    hub_rss_mb_1000_agents: v(r.memory?.hubRssMb1000Agents),
    hub_rss_mb_10000_agents: v(r.memory?.hubRssMb10000Agents),
    hub_peak_rss_mb_10000_agents: v(r.memory?.hubPeakRssMb),
    hub_idle_cpu_percent_10000_agents: v(r.memory?.hubIdleCpuPercent10000Agents),
    hub_connect_10000_agents_s: v(r.memory?.connectSeconds),
    hub_10000_agents_swarm_cpu_percent: v(r.memory?.manyAgents.swarmCpuPercent),
    hub_10000_agents_lost_sessions: v(r.memory?.manyAgents.lostSessions),
    ...(r.memory
      ? {
          hub_10000_agents_setup: `TLS ${r.memory.manyAgents.tls ? 'on' : 'off'}; ${r.memory.manyAgents.swarmProcesses} client processes of protocol-level agents, one HTTP/2 connection each; heartbeat ${r.memory.manyAgents.heartbeatMs} ms`,
        }
      : {}),
    ...Object.fromEntries(
      (r.stepsMemory ?? []).flatMap((m) => {
        // The 50-step run keeps the key names earlier runs used.
        const tail = m.steps === 50 ? '' : `_${m.steps}_steps`;
        return [
          [`agent_rss_mb_per_running_step${tail}`, v(m.perStepMb)],
          [`agent_rss_mb_running_steps${tail}`, v(m.runningRssMb)],
          [`agent_rss_mb_before_running_steps${tail}`, v(m.agentIdleRssMb)],
          [`steps_start_s${tail}`, v(m.startSeconds)],
          [`steps_start_cpu_s${tail}`, v(m.startCpuSeconds)],
          [`steps_running_cpu_percent${tail}`, v(m.runningCpuPercent)],
        ];
      }),
    ),
    big_log_printed_mb: v(r.bigLog ? r.bigLog.printedBytes / MB : undefined),
    big_log_hub_peak_rss_mb: v(r.bigLog?.hubPeakRssMb),
    big_log_agent_peak_rss_mb: v(r.bigLog?.agentPeakRssMb),
    big_log_supervisor_peak_rss_mb: v(r.bigLog?.supervisorPeakRssMb),
    big_log_stored_mb: v(r.bigLog ? r.bigLog.storedBytes / MB : undefined),
    big_log_markers: v(r.bigLog?.markers),
    big_log_seconds: v(r.bigLog?.seconds),
    big_log_hub_cpu_mb_per_s: v(r.bigLog?.hubCpuMbPerS),
    big_log_agent_cpu_mb_per_s: v(r.bigLog?.agentCpuMbPerS),
    ui_newest_line_ms: v(r.ui?.newestLineMs),
    ui_floor_ms: v(r.ui?.floorMs),
    ui_first_newest_line_ms: v(r.ui?.firstNewestLineMs),
    ui_hub_page_first_ms: v(r.ui?.hubPage.firstMs),
    ui_hub_page_later_ms: v(r.ui?.hubPage.laterMs),
    ui_hub_page_after_restart_ms: v(r.ui?.hubPage.afterRestartMs),
    ui_hub_page_after_restart_floor_ms: v(r.ui?.hubPage.afterRestartFloorMs),
    ui_top_ms: v(r.ui?.topMs),
    ui_floor_rss_mb: v(r.ui?.floorMemory.rssMb),
    ui_jump_p50_ms: v(r.ui?.jump.p50),
    ui_renderer_rss_mb: v(r.ui?.memory.rssMb),
    ui_renderer_private_mb: v(r.ui?.memory.privateMb),
    ui_renderers_rss_sum_mb: v(r.ui?.memory.allRssMb),
    ui_js_heap_mb: v(r.ui?.jsHeapMb),
    k8s_fake_api_inputs_mb_per_s: v(r.kubeData?.api.inputsMbPerS),
    k8s_fake_api_outputs_mb_per_s: v(r.kubeData?.api.outputsMbPerS),
    k8s_fake_api_requests_per_step: v(r.kubeData?.api.apiRequestsPerStep),
    k8s_fake_api_stream_mb_per_step: v(r.kubeData?.api.apiStreamMbPerStep),
    k8s_fake_agent_inputs_mb_per_s: v(r.kubeData?.agent.inputsMbPerS),
    k8s_fake_agent_outputs_mb_per_s: v(r.kubeData?.agent.outputsMbPerS),
    k8s_fake_agent_requests_per_step: v(r.kubeData?.agent.apiRequestsPerStep),
    k8s_fake_agent_stream_mb_per_step: v(r.kubeData?.agent.apiStreamMbPerStep),
    k8s_fake_agent_endpoint_requests_per_step: v(r.kubeData?.agent.endpointRequestsPerStep),
    ...(r.onPostgres ? hubFigures(r.onPostgres, '_postgres') : {}),
    ...(r.inMemory ? hubFigures(r.inMemory, '_memory') : {}),
    ...replicaFigures(r.replicas ?? []),
    duration_s: v(seconds),
  };
}

const MEASUREMENTS = [
  'floor',
  'dispatch',
  'build',
  'throughput',
  'logs',
  'memory',
  'stepmem',
  'biglog',
  'ui',
  'k8sdata',
];

const USAGE = `usage: npm run bench -- [--json FILE] [--only NAME,...] [--memory] [--big-log-bytes N]
  --json FILE         also write the figures as flat JSON (key \`store\` names the store)
  --only NAME,...     run only these: floor, dispatch, build, throughput, logs, memory, stepmem, biglog,
                      ui, k8sdata (default: all)
  --postgres          dispatch, build and steps/s once more with the hub on a local PostgreSQL
                      (durable defaults; extra, labelled rows)
  --memory            dispatch, build and steps/s once more on SQLite :memory: (extra, labelled rows)
  --replicas N,...    steps/s, dispatch and log MB/s with N hub replicas (child processes) on one local
                      durable PostgreSQL, for each N (e.g. 1,3); --replica-builds B one-step builds
                      (default 1000)
  --big-log-bytes N   what the biglog step prints (default 1 GiB)
How to profile and read the figures: docs/performance.md.
`;

async function main(): Promise<void> {
  // `--only logs,memory` runs a subset (floor, dispatch, build, throughput, logs, memory, stepmem, biglog,
  // ui, k8sdata);
  // `--big-log-bytes N` sets what the biglog step prints (default 1 GiB); `--memory` measures dispatch,
  // build and throughput a second time on a SQLite `:memory:` store, as extra rows.
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        json: { type: 'string' },
        only: { type: 'string' },
        'big-log-bytes': { type: 'string' },
        memory: { type: 'boolean' },
        postgres: { type: 'boolean' },
        replicas: { type: 'string' },
        'replica-builds': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const bigLogBytes = Number(values['big-log-bytes'] ?? 1024 * MB);
  if (!Number.isSafeInteger(bigLogBytes) || bigLogBytes <= 0)
    throw new Error(`--big-log-bytes: not a positive byte count: ${values['big-log-bytes']}`);
  const only = values.only ? new Set(values.only.split(',')) : undefined;
  const unknown = [...(only ?? [])].filter((name) => !MEASUREMENTS.includes(name));
  if (unknown.length > 0) {
    process.stderr.write(`bench: --only: no measurement named ${unknown.join(', ')}\n${USAGE}`);
    process.exit(2);
  }
  const wanted = (name: string) => !only || only.has(name);
  const start = performance.now();
  const r: Results = {};
  if (wanted('floor')) r.floor = await step('floor (bare gRPC RTT and stream)', measureFloor);
  const measureHub = async (h: HubFigures, store: BenchStore) => {
    const on = ` [${STORE_LABELS[store]}]`;
    if (wanted('dispatch'))
      h.dispatch = await step(`(a) dispatch latency${on}`, () => measureDispatch(store));
    if (wanted('build'))
      h.build = await step(
        `(b) one-step build latency, real agent, ${store === 'file' ? 'hub and agent in their own processes' : 'hub and agent in the bench process'}${on}`,
        () => measureBuild(store),
      );
    if (wanted('throughput')) h.throughput = await step(`(c) steps/s${on}`, () => measureThroughput(store));
  };
  await measureHub(r, 'file');
  if (values.postgres) {
    const missing = postgresMissing();
    if (missing) {
      process.stderr.write(`bench: --postgres: cannot run: ${missing}\n`);
      failed = true;
    } else await measureHub((r.onPostgres = {}), 'postgres');
  }
  if (values.memory) await measureHub((r.inMemory = {}), 'memory');
  if (values.replicas !== undefined) {
    const ran = await runReplicas(values.replicas, values['replica-builds'], step);
    if (ran.error) {
      process.stderr.write(`bench: --replicas: ${ran.error}\n`);
      failed = true;
    }
    r.replicas = ran.results;
  }
  if (wanted('logs') || wanted('memory') || wanted('stepmem') || wanted('biglog') || wanted('ui'))
    if (await step('build dist/ for (d) to (g)', ensureBuilt)) process.stderr.write('bench: dist/ rebuilt\n');
  if (wanted('logs')) r.logs = await step('(d) log throughput', measureLogs);
  if (wanted('memory')) r.memory = await step('(e) memory', measureMemory);
  if (wanted('stepmem')) {
    r.stepsMemory = [];
    for (const steps of [50, 500]) {
      const m = await step(`(g) agent memory per running step, ${steps} steps`, () =>
        measureStepsMemory(steps),
      );
      if (m) r.stepsMemory.push(m);
    }
  }
  if (wanted('biglog'))
    r.bigLog = await step(`(f) one step printing ${fmt(bigLogBytes / MB)} MB`, () =>
      measureBigLog(bigLogBytes),
    );
  const noBrowser = uiUnavailable();
  if (wanted('ui') && noBrowser && only?.has('ui')) {
    process.stderr.write(`bench: (h) web UI: cannot run: ${noBrowser}\n`);
    failed = true;
  } else if (wanted('ui') && noBrowser) process.stderr.write(`bench: (h) web UI: skipped: ${noBrowser}\n`);
  else if (wanted('ui'))
    r.ui = await step('(h) web UI on a 1,000,000-line log, file-backed hub, chromium', measureUi);
  if (wanted('k8sdata')) r.kubeData = await step('(i) Kubernetes data paths, fake cluster', measureKubeData);
  const seconds = (performance.now() - start) / 1000;

  process.stdout.write(`\n${renderTable(table(r))}\n\n1 MB = 2^20 bytes; total ${seconds.toFixed(1)} s\n`);
  if (values.json) await writeFile(values.json, JSON.stringify(figures(r, seconds), null, 2) + '\n');

  const logs = r.logs;
  if (logs && (logs.linesSent !== logs.linesReceived || logs.linesWrong > 0)) {
    process.stderr.write(
      `bench: CORRECTNESS FAILURE: ${logs.linesSent} log lines sent, ${logs.linesReceived} received, ${logs.linesWrong} out of order or duplicated\n`,
    );
    failed = true;
  }
  const big = r.bigLog;
  const markersWanted = big && big.printedBytes > big.capBytes ? 1 : 0;
  if (big && (big.markers !== markersWanted || big.status !== 'succeeded' || !bigLogStoredOk(big))) {
    process.stderr.write(
      `bench: CORRECTNESS FAILURE: the ${big.printedBytes}-byte step ended ${big.status} with ${big.storedBytes} log bytes stored (cap ${big.capBytes}) and ${big.markers} truncation markers\n`,
    );
    failed = true;
  }
  // Open handles (gRPC channels winding down) must not keep a finished benchmark alive.
  process.exit(failed ? 1 : 0);
}

await main();

/** How the many-agents figures were taken, for their row labels. */
function manyAgentsLabel(m: ManyAgentsResult | undefined): string {
  return m ? ` [TLS ${m.tls ? 'on' : 'off'}, ${m.swarmProcesses} client processes]` : '';
}
