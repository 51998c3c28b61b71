// (f) One step printing 1 GiB (issue #6 item 5): a hub child process and a real agent child process
// (built JavaScript, as deployed, default options), one process-pool step that prints `bytes` of
// 100-byte lines as fast as `yes | head` can. The hub stores the first `--max-build-log-bytes` (its
// default, 100 MiB) and drops the rest behind one marker line; the agent's step host spills the output
// to a file and the agent streams it from there. RSS of the hub, the agent and the step host is
// sampled from /proc every SAMPLE_MS; the hub's and agent's VmHWM (kernel-kept peak) is read at the end.
// Stored bytes and markers are read from the hub's database after the hub has stopped.

import type { ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import BetterSqlite3 from 'better-sqlite3';
import { readAdminToken } from '../hub/auth/admin-token.js';
import { DEFAULT_HUB_OPTIONS } from '../hub/hub.js';
import { SQLITE_FILE } from '../hub/store/sqlite.js';
import { agentConfigYaml } from './build.js';
import { kill, spawnAgent, spawnHub } from './child-hub.js';
import { MB } from './stats.js';
import { cpuSeconds, HubApi, rssMb, sleep, waitForAgents, within } from './support.js';

export interface BigLogResult {
  /** What the step printed. */
  printedBytes: number;
  capBytes: number;
  /** builds.log_bytes after the run: log payload the hub stored for the build. */
  storedBytes: number;
  /** Log events of the build carrying the truncation marker (want exactly 1). */
  markers: number;
  status: string;
  /** Trigger -> build finished (as polled through the API). */
  seconds: number;
  hubPeakRssMb: number;
  agentPeakRssMb: number;
  /** Sampled: the step host lives while the step runs. NaN if it was never seen. */
  supervisorPeakRssMb: number;
  hubIdleRssMb: number;
  agentIdleRssMb: number;
  /** Largest size the agent's spill file (the step's `state/log`) was seen at. */
  spillFileMb: number;
  /** Printed MB per CPU second of each process over the run. */
  hubCpuMbPerS: number;
  agentCpuMbPerS: number;
  dbFileMb: number;
}

/** Bound on each process's peak RSS; why this one: docs/operations.md, "Limits and backpressure". */
export const BIG_LOG_RSS_BOUND_MB = 300;
const SAMPLE_MS = 100;
const MARKER = 'build log exceeds';
const LINE = 'x'.repeat(99);

const rssOrNaN = (pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS') => rssMb(pid, field).catch(() => NaN);
const max = (a: number, b: number) => (Number.isNaN(a) ? b : Number.isNaN(b) ? a : Math.max(a, b));

/** The running step's state directory under the agent's work dir, once the step has one. */
async function stepStateDir(workDir: string): Promise<string | undefined> {
  const pool = path.join(workDir, 'steps', 'local');
  const leases = await readdir(pool).catch(() => [] as string[]);
  return leases[0] === undefined ? undefined : path.join(pool, leases[0], 'state');
}

export async function measureBigLog(bytes: number): Promise<BigLogResult> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-bench-biglog-'));
  let hub: ChildProcess | undefined;
  let agent: ChildProcess | undefined;
  try {
    const dataDir = path.join(dir, 'hub');
    const started = await spawnHub(dataDir);
    hub = started.child;
    const hubPid = hub.pid ?? 0;
    const adminToken = await readAdminToken(dataDir);
    const api = new HubApi(started.url, adminToken);
    const agentToken = await api.createAgentToken('bench-biglog');

    const agentDir = path.join(dir, 'agent');
    const workDir = path.join(agentDir, 'work');
    await mkdir(agentDir);
    await writeFile(path.join(agentDir, 'token'), agentToken, { mode: 0o600 });
    const config = path.join(agentDir, 'agent.yaml');
    await writeFile(config, agentConfigYaml(`127.0.0.1:${started.grpcPort}`, 'biglog-agent', workDir));
    agent = spawnAgent(config);
    agent.stdout?.resume();
    const agentPid = agent.pid ?? 0;
    await waitForAgents(api, 1, 20_000);
    await sleep(1_000);
    const hubIdleRssMb = await rssMb(hubPid);
    const agentIdleRssMb = await rssMb(agentPid);

    await api.setPipeline(
      'biglog',
      `jobs:
- name: one
  plan:
  - task: print
    config:
      platform: linux
      run:
        path: sh
        args: ["-c", "yes ${LINE} | head -c ${bytes}"]
`,
    );

    let hubPeak = NaN;
    let agentPeak = NaN;
    let supervisorPeak = NaN;
    let spillBytes = 0;
    let supervisorPid: number | undefined;
    let stateDir: string | undefined;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        hubPeak = max(hubPeak, await rssOrNaN(hubPid));
        agentPeak = max(agentPeak, await rssOrNaN(agentPid));
        stateDir ??= await stepStateDir(workDir);
        if (stateDir) {
          supervisorPid ??=
            Number(await readFile(path.join(stateDir, 'pid'), 'utf8').catch(() => '')) || undefined;
          if (supervisorPid) supervisorPeak = max(supervisorPeak, await rssOrNaN(supervisorPid));
          spillBytes = Math.max(
            spillBytes,
            await stat(path.join(stateDir, 'log')).then(
              (s) => s.size,
              () => 0,
            ),
          );
        }
        await sleep(SAMPLE_MS);
      }
    })();

    const hubCpu0 = await cpuSeconds(hubPid);
    const agentCpu0 = await cpuSeconds(agentPid);
    const start = performance.now();
    const buildId = await api.trigger('biglog', 'one');
    const status = await within(
      // Generous: at a few MB/s on a loaded machine 1 GiB still finishes.
      600_000,
      'biglog build',
      (async () => {
        for (;;) {
          const res = await api.call('GET', `/builds/${buildId}`);
          const s = (res.body as { status?: string }).status ?? '';
          if (!['pending', 'started'].includes(s)) return s;
          await sleep(200);
        }
      })(),
    );
    const seconds = (performance.now() - start) / 1000;
    const hubCpu = (await cpuSeconds(hubPid)) - hubCpu0;
    const agentCpu = (await cpuSeconds(agentPid)) - agentCpu0;
    sampling = false;
    await sampler;
    hubPeak = max(hubPeak, await rssOrNaN(hubPid, 'VmHWM'));
    agentPeak = max(agentPeak, await rssOrNaN(agentPid, 'VmHWM'));

    await kill(agent);
    await kill(hub);
    const dbFile = path.join(dataDir, SQLITE_FILE);
    const dbFileMb = (await stat(dbFile)).size / MB;
    const db = new BetterSqlite3(dbFile, { readonly: true });
    let storedBytes: number;
    let markers: number;
    try {
      const row = db.prepare('SELECT log_bytes FROM builds WHERE id = ?').get(buildId) as
        { log_bytes: number | bigint } | undefined;
      storedBytes = Number(row?.log_bytes ?? NaN);
      const count = db
        .prepare(
          "SELECT count(*) AS n FROM build_events WHERE build_id = ? AND type = 'log' AND instr(data, ?) > 0",
        )
        .get(buildId, MARKER) as { n: number };
      markers = count.n;
    } finally {
      db.close();
    }
    return {
      printedBytes: bytes,
      capBytes: DEFAULT_HUB_OPTIONS.maxBuildLogBytes,
      storedBytes,
      markers,
      status,
      seconds,
      hubPeakRssMb: hubPeak,
      agentPeakRssMb: agentPeak,
      supervisorPeakRssMb: supervisorPeak,
      hubIdleRssMb,
      agentIdleRssMb,
      spillFileMb: spillBytes / MB,
      hubCpuMbPerS: bytes / MB / hubCpu,
      agentCpuMbPerS: bytes / MB / agentCpu,
      dbFileMb,
    };
  } finally {
    if (agent) await kill(agent);
    if (hub) await kill(hub);
    await rm(dir, { recursive: true, force: true });
  }
}
