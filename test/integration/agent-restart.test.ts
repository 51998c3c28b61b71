// An agent process SIGKILLed in the middle of a process step: the step's supervisor keeps it running,
// the restarted agent reattaches, replays the step's log from disk (the hub drops the sequences it
// has) and reports the result. The user sees one run of the step and every line once, in order.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
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

const LINES = 20_000;
/** Shell: waits until the test creates the file $GATE (the step's env). */
const untilGate = 'while [ ! -e "$GATE" ]; do sleep 0.05; done';

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

it('survives a SIGKILL of the agent mid-step: the step runs once, every line once and in order', async () => {
  hub = await startTestHub();
  dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-agent-restart-'));
  const marker = path.join(dir, 'runs');
  const token = await hub.newAgentToken('restart');
  const agentDir = path.join(dir, 'agent');

  const first = await spawnAgentProcess(hub, { dir: agentDir, token });
  agents.push(first);
  await first.logged('connected to the hub');

  // Half the lines, then the step waits for the gate the test opens once the agent is dead: however
  // fast or slow the machine, the agent dies in the middle of the step (never after its end).
  const gate = path.join(dir, 'go');
  const script = `echo run >> "$MARKER"; i=1; while [ $i -le ${LINES} ]; do echo "line $i"; if [ $i -eq ${LINES / 2} ]; then ${untilGate}; fi; i=$((i+1)); done`;
  await setPipeline(
    hub,
    'restart',
    shellPipeline(
      script,
      `    params: { MARKER: ${JSON.stringify(marker)}, GATE: ${JSON.stringify(gate)} }\n`,
    ),
  );
  const t0 = Date.now();
  const buildId = await triggerJob(hub, 'restart', 'job');
  const stream = await openEventStream(hub, buildId);
  await stream.until('line 4000\\n');
  await stream.cancel();
  // The agent's lines about the step name the build as the hub and the CLI show it.
  const started = first
    .output()
    .split('\n')
    .find((l) => l.includes('"msg":"step started"'));
  expect(JSON.parse(started ?? '{}')).toMatchObject({ build: 'main/restart/job #1', step: 'run' });

  first.child.kill('SIGKILL');
  expect((await first.exited).signal).toBe('SIGKILL');
  const killedAt = Date.now() - t0;
  // The step's supervisor outlived the agent.
  const stepsDir = path.join(agentDir, 'work', 'steps', 'local');
  const [lease] = readdirSafe(stepsDir);
  const supervisor = Number(readFileSync(path.join(stepsDir, lease!, 'state', 'pid'), 'utf8'));
  expect(() => process.kill(supervisor, 0)).not.toThrow();
  // The rest of the step's output is written while no agent is there.
  await writeFile(gate, '');

  const second = await spawnAgentProcess(hub, { dir: agentDir, token });
  agents.push(second);
  await second.logged('reattached a step held from before a restart');

  const events = await readBuildEvents(hub, buildId);
  const expected = Array.from({ length: LINES }, (_, i) => `line ${i + 1}\n`).join('');
  expect(finalStatus(events)).toBe('succeeded');
  const out = logText(events);
  // Compared by count first: a 200 KB diff helps nobody.
  expect(out.split('\n').length - 1).toBe(LINES);
  expect(out === expected).toBe(true);
  expect(readFileSync(marker, 'utf8')).toBe('run\n');
  // The second agent cleaned the step up once the hub had its result.
  await second.logged('step ended');
  for (let i = 0; i < 100 && existsSync(path.join(agentDir, 'work', 'steps', 'local')); i++) {
    const left = readdirSafe(path.join(agentDir, 'work', 'steps', 'local'));
    if (left.length === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(readdirSafe(path.join(agentDir, 'work', 'steps', 'local'))).toEqual([]);
  // The supervisor and the step are gone; only the second agent runs from this directory.
  expect((await orphansUnder(path.join(agentDir, 'work'))).length).toBe(0);
  console.log(`agent-restart: killed after ${killedAt} ms; build done after ${Date.now() - t0} ms`);
}, 90_000);

function readdirSafe(p: string): string[] {
  try {
    return readdirSync(p).filter((n) => !n.startsWith('.'));
  } catch {
    return [];
  }
}

it('reports a step that finished while the agent was down, with its whole log', async () => {
  hub = await startTestHub();
  dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-agent-restart-'));
  const token = await hub.newAgentToken('restart');
  const agentDir = path.join(dir, 'agent');
  const gate = path.join(dir, 'go');
  const first = await spawnAgentProcess(hub, { dir: agentDir, token });
  agents.push(first);
  await first.logged('connected to the hub');
  await setPipeline(
    hub,
    'quick',
    shellPipeline(
      `echo begin; ${untilGate}; i=1; while [ $i -le 500 ]; do echo "n $i"; i=$((i+1)); done; exit 5`,
      `    params: { GATE: ${JSON.stringify(gate)} }\n`,
    ),
  );
  const buildId = await triggerJob(hub, 'quick', 'job');
  const stream = await openEventStream(hub, buildId);
  await stream.until('begin\\n');
  await stream.cancel();
  first.child.kill('SIGKILL');
  await first.exited;
  // Only now may the step end: it finishes while the agent is down, however slow the stream was.
  await writeFile(gate, '');

  const stepsDir = path.join(agentDir, 'work', 'steps', 'local');
  const [lease] = readdirSafe(stepsDir);
  const resultFile = path.join(stepsDir, lease!, 'state', 'result.json');
  for (let i = 0; i < 200 && !existsSync(resultFile); i++) await new Promise((r) => setTimeout(r, 50));
  const written = JSON.parse(readFileSync(resultFile, 'utf8')) as Record<string, unknown>;
  expect(written).toEqual({ status: 'failed', exitStatus: 5, error: null, exitedAt: written.exitedAt });
  expect(typeof written.exitedAt).toBe('number');

  const second = await spawnAgentProcess(hub, { dir: agentDir, token });
  agents.push(second);
  const events = await readBuildEvents(hub, buildId);
  expect(finalStatus(events)).toBe('failed');
  expect(events.find((e) => e.event === 'finish-task')?.data.exit_status).toBe(5);
  const expected = `begin\n${Array.from({ length: 500 }, (_, i) => `n ${i + 1}\n`).join('')}`;
  expect(logText(events)).toBe(expected);
}, 90_000);
