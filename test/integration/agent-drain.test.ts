// SIGTERM on an agent process: it tells the hub it is draining (no new work), lets its running step
// finish within drain_timeout_seconds, or aborts it at that bound, and exits.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import type { AgentSummary } from '../../hub/api/types.js';
import { orphansUnder, spawnAgentProcess, type AgentProcess } from '../support/agent-process.js';
import {
  finalStatus,
  logText,
  openEventStream,
  readBuildEvents,
  setPipeline,
  shellPipeline,
  startTestHub,
  triggerJob,
  type TestHub,
} from '../support/harness.js';

let hub: TestHub | undefined;
let dir: string | undefined;
const agents: AgentProcess[] = [];

afterEach(async () => {
  for (const a of agents.splice(0)) {
    if (a.child.exitCode === null && a.child.signalCode === null) {
      a.child.kill('SIGKILL');
      await a.exited;
    }
  }
  await hub?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function agentState(h: TestHub, name: string): Promise<string | undefined> {
  const res = await h.api<AgentSummary[]>('GET', '/agents');
  return res.body.find((a) => a.name === name)?.state;
}

async function until(cond: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function setup(drainTimeoutSeconds: number, script: string) {
  hub = await startTestHub();
  dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-agent-drain-'));
  const gate = path.join(dir, 'go');
  const agent = await spawnAgentProcess(hub, {
    dir: path.join(dir, 'agent'),
    token: await hub.newAgentToken('drain'),
    name: 'drainer',
    drainTimeoutSeconds,
  });
  agents.push(agent);
  await agent.logged('connected to the hub');
  await setPipeline(hub, 'p', shellPipeline(script, `    params: { GATE: ${JSON.stringify(gate)} }\n`));
  const buildId = await triggerJob(hub, 'p', 'job');
  const stream = await openEventStream(hub, buildId);
  await stream.until('started\\n');
  await stream.cancel();
  return { h: hub, agent, buildId, gate };
}

it('finishes its running step, takes no new work, and exits 0', async () => {
  // The step ends only when the test says so: after it saw the agent draining (a step that ended
  // before the SIGTERM would let the agent exit before anyone saw it drain).
  const { h, agent, buildId, gate } = await setup(
    30,
    'echo started; while [ ! -e "$GATE" ]; do sleep 0.05; done; echo finished',
  );
  const t0 = Date.now();
  agent.child.kill('SIGTERM');
  await until(async () => (await agentState(h, 'test/drainer')) === 'draining', 5_000);

  // Work that comes now is not given to the draining agent.
  const second = await triggerJob(h, 'p', 'job');
  const secondStream = await openEventStream(h, second);
  const seen = await secondStream.until('waiting-for-worker');
  await secondStream.cancel();
  expect(seen).not.toContain('selected-worker');

  await writeFile(gate, '');
  const exit = await agent.exited;
  const took = Date.now() - t0;
  expect(exit).toEqual({ code: 0, signal: null });
  const events = await readBuildEvents(h, buildId);
  expect(finalStatus(events)).toBe('succeeded');
  expect(logText(events)).toBe('started\nfinished\n');
  expect(took).toBeLessThan(15_000);
  expect(await orphansUnder(dir!)).toEqual([]);
  console.log(`agent-drain (finish): exited ${took} ms after SIGTERM`);
}, 60_000);

it('stops a step that outlasts drain_timeout_seconds, reports it errored, and exits within the bound', async () => {
  const bound = 2;
  const { h, agent, buildId } = await setup(bound, 'echo started; sleep 100; echo never');
  const t0 = Date.now();
  agent.child.kill('SIGTERM');
  const exit = await agent.exited;
  const took = Date.now() - t0;
  expect(exit).toEqual({ code: 0, signal: null });
  // The bound, plus the abort's SIGTERM and the hub's acknowledgement of the result.
  expect(took).toBeGreaterThanOrEqual(bound * 1000 - 100);
  expect(took).toBeLessThan(bound * 1000 + 10_000);
  const events = await readBuildEvents(h, buildId);
  expect(logText(events)).toBe('started\n');
  // Nobody aborted it: the agent went away, an infrastructure error (fly exit 2), and it says so.
  expect(finalStatus(events)).toBe('errored');
  expect(events.find((e) => e.event === 'error')?.data.message).toBe(
    `agent drainer shut down before the step finished (drain timeout of ${bound}s)`,
  );
  expect(await orphansUnder(dir!)).toEqual([]);
  console.log(`agent-drain (abort): exited ${took} ms after SIGTERM; build ${finalStatus(events)}`);
}, 60_000);
