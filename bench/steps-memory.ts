// (g) What a running step costs the agent: a hub child and a real agent child (process executor), then
// one build of `steps` parallel tasks (50, and 500) that each sleep (aborted once measured). Once the step host has
// started every step's process, the agent's RSS plus the step host's (every distinct supervising
// process: one per work root), minus the agent's idle RSS, divided by `steps`: the memory each step
// holds beyond its own processes (issue 20's `agent_rss_mb_per_running_step`). Also the CPU the agent
// and its step host spent starting them, and what they spend while the steps sleep.

import type { ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readAdminToken } from '../hub/auth/admin-token.js';
import { agentConfigYaml } from './build.js';
import { kill, spawnAgent, spawnHub } from './child-hub.js';
import { cpuSeconds, HubApi, readUntil, rssMb, sleep, waitForAgents, within } from './support.js';

const ABORTED_EVENT = '"event":"status","version":"1.0","data":{"status":"aborted"';

export interface StepsMemoryResult {
  steps: number;
  /** From the trigger until every step's process runs. */
  startSeconds: number;
  agentIdleRssMb: number;
  /** Agent plus its step host while every step runs. */
  runningRssMb: number;
  perStepMb: number;
  /** CPU seconds of the agent and its step host from the trigger until every step ran. */
  startCpuSeconds: number;
  /** Their CPU, in % of one core, while every step sleeps. */
  runningCpuPercent: number;
}

/** Longer than all the steps take to start on a loaded 2-core machine; the build is aborted once measured. */
const SLEEP_S = 600;
const IDLE_MS = 2_000;
const CPU_WINDOW_MS = 5_000;

const alive = (pid: number) =>
  readFile(`/proc/${pid}/stat`, 'utf8').then(
    () => true,
    () => false,
  );

/** The supervisor pid of each step running under `workDir` (the step host writes `state/pid` as it takes a step). */
async function supervisorPids(workDir: string): Promise<number[]> {
  const pool = path.join(workDir, 'steps', 'local');
  const leases = await readdir(pool).catch(() => [] as string[]);
  const pids = await Promise.all(
    leases.map((l) => readFile(path.join(pool, l, 'state', 'pid'), 'utf8').then(Number, () => 0)),
  );
  return pids.filter((pid) => pid > 0);
}

/** Pids whose parent is `ppid`, from /proc. */
async function childrenOf(ppid: number): Promise<number[]> {
  const out: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // Field 4 (ppid) comes after the command name in parentheses, which may itself hold spaces.
    const ppidField = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1];
    if (Number(ppidField) === ppid) out.push(Number(entry));
  }
  return out;
}

export async function measureStepsMemory(steps: number): Promise<StepsMemoryResult> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-bench-stepmem-'));
  let hub: ChildProcess | undefined;
  let agent: ChildProcess | undefined;
  let supervisors: number[] = [];
  let stepPids: number[] = [];
  let startSeconds = NaN;
  try {
    const dataDir = path.join(dir, 'hub');
    const started = await spawnHub(dataDir);
    hub = started.child;
    const api = new HubApi(started.url, await readAdminToken(dataDir));
    const agentToken = await api.createAgentToken('bench-stepmem');
    const agentDir = path.join(dir, 'agent');
    const workDir = path.join(agentDir, 'work');
    await mkdir(agentDir);
    await writeFile(path.join(agentDir, 'token'), agentToken, { mode: 0o600 });
    const config = path.join(agentDir, 'agent.yaml');
    await writeFile(
      config,
      agentConfigYaml(`127.0.0.1:${started.grpcPort}`, 'stepmem-agent', workDir, steps),
    );
    agent = spawnAgent(config);
    agent.stdout?.resume();
    const agentPid = agent.pid ?? 0;
    await waitForAgents(api, 1, 20_000);
    await sleep(IDLE_MS);
    const agentIdleRssMb = await rssMb(agentPid);

    const tasks = Array.from(
      { length: steps },
      (_, i) => `    - task: sleep-${i + 1}
      config:
        platform: linux
        run:
          path: sleep
          args: ["${SLEEP_S}"]
`,
    );
    await api.setPipeline('stepmem', `jobs:\n- name: many\n  plan:\n  - in_parallel:\n${tasks.join('')}`);
    const cpuOf = async (pids: number[]) =>
      (await Promise.all(pids.map(cpuSeconds))).reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
    const agentCpuBefore = await cpuOf([agentPid]);
    const triggeredAt = Date.now();
    const id = await api.trigger('stepmem', 'many');
    const events = await api.events(id);
    // Settled here so that a failure below (the hub stopped in `finally`) is not an unhandled rejection.
    const done = readUntil(events, ABORTED_EVENT).catch((err: unknown) => err as Error);

    // Every step was taken by a supervisor, and each step's process (`sleep`) runs as its child.
    let taken = 0;
    await within(
      (SLEEP_S - 60) * 1000,
      `${steps} steps running`,
      (async () => {
        for (;;) {
          const perStep = await supervisorPids(workDir);
          taken = perStep.length;
          supervisors = [...new Set(perStep)];
          if (perStep.length === steps) {
            stepPids = (await Promise.all(supervisors.map(childrenOf))).flat();
            if (stepPids.length >= steps) {
              startSeconds = (Date.now() - triggeredAt) / 1000;
              return;
            }
          }
          await sleep(200);
        }
      })(),
    ).catch((err: unknown) => {
      // How far it got says where it is stuck: the hub's dispatch, the agent, or the step host.
      throw new Error(
        `${(err as Error).message} (${taken} of ${steps} steps taken by a step host, ${stepPids.length} processes seen running)`,
      );
    });
    // The step host started with the first step: all of its CPU is the steps'.
    const startCpuSeconds = (await cpuOf([agentPid, ...supervisors])) - agentCpuBefore;
    const rss = await Promise.all([agentPid, ...supervisors].map((pid) => rssMb(pid)));
    const runningRssMb = rss.reduce((a, b) => a + b, 0);
    const cpuRunningBefore = await cpuOf([agentPid, ...supervisors]);
    await sleep(CPU_WINDOW_MS);
    const runningCpuPercent =
      (((await cpuOf([agentPid, ...supervisors])) - cpuRunningBefore) / (CPU_WINDOW_MS / 1000)) * 100;
    const abort = await api.call('PUT', `/builds/${id}/abort`);
    if (abort.status !== 204) throw new Error(`abort build ${id}: HTTP ${abort.status}`);
    const ended = await within(60_000, `build ${id} aborted`, done);
    if (ended !== true) throw new Error(`build ${id} ended without being aborted`, { cause: ended });
    await events.cancel();
    return {
      steps,
      startSeconds,
      agentIdleRssMb,
      runningRssMb,
      perStepMb: (runningRssMb - agentIdleRssMb) / steps,
      startCpuSeconds,
      runningCpuPercent,
    };
  } finally {
    if (agent) await kill(agent);
    if (hub) await kill(hub);
    // The step host outlives the agent by design, and each step has its own process group: end any left.
    for (const pid of [...stepPids, ...supervisors])
      if (await alive(pid))
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // already gone
        }
    await rm(dir, { recursive: true, force: true });
  }
}
