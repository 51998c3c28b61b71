// The step's log against a kubelet that rotates log files and a follow connection that goes silent:
// every line exactly once, and a reattached step goes on from where the hub stored the log.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeKube, type FakeKube } from '../../../test/support/fake-k8s/index.js';
import { Collect, go, untilGo, waitForPod } from '../../../test/support/fake-k8s/test-helpers.js';
import { Log } from '@kubernetes/client-node';
import type { ExecStep, LogData, RunningStep } from '../executor.js';
import { KubernetesExecutor } from './executor.js';
import { ROTATED } from './logs.js';
import { NS, settingsFor } from './settings.test-fixtures.js';

// 301 lines of CRI log rotate so that the current file holds the last 40 (line 261 on).
const ROTATE_BYTES = 2100;
let fake: FakeKube;
let dir: string;

beforeAll(async () => {
  fake = await startFakeKube({ namespaces: [NS], logRotateBytes: ROTATE_BYTES });
  dir = await mkdtemp(path.join(os.tmpdir(), 'klogs-'));
});
afterAll(async () => {
  await fake.close();
  await rm(dir, { recursive: true, force: true });
});

function executor(logIdleMs?: number): KubernetesExecutor {
  return new KubernetesExecutor({
    settings: settingsFor(),
    agent: 'agent-logs',
    workRoot: path.join(dir, 'work'),
    kubeConfig: fake.kubeConfig(),
    ...(logIdleMs !== undefined ? { logIdleMs } : {}),
  });
}

function stepRunning(script: string): ExecStep {
  return {
    leaseId: `lease-${Math.random().toString(36).slice(2, 10)}`,
    run: { path: 'sh', args: ['-c', script], dir: '', user: '' },
    env: {},
    inputs: [],
    outputs: [],
    timeoutMs: 0,
    privileged: false,
  };
}

const podOf = (step: RunningStep): string =>
  fake.pods(NS).find((p) => p.metadata.annotations?.['outpost.dev/lease'] === step.leaseId)!.metadata.name;

const lines = (from: number, to: number): string =>
  Array.from({ length: to - from + 1 }, (_, i) => `line ${from + i}\n`).join('');

async function collect(step: RunningStep): Promise<LogData[]> {
  const pieces: LogData[] = [];
  for await (const piece of step.logs()) pieces.push(piece);
  return pieces;
}

const text = (pieces: LogData[]) => pieces.map((p) => p.data.toString()).join('');

/** The current log file as a new request reads it (after rotation: only its newest lines). */
async function currentFile(pod: string): Promise<string> {
  const out = new Collect();
  await new Log(fake.kubeConfig()).log(NS, pod, 'step', out, {});
  return out.ended;
}

/** Lets a step waiting in untilGo() go on. */
const goOn = (pod: string) =>
  go(fake.kubeConfig(), fake.isolation, { namespace: NS, pod, container: 'step', dir: '/workspace' });

/**
 * A step that printed 300 lines, of which the kubelet now serves only the newest. It starts once the
 * first follow is open, so that follow reads every line.
 */
async function rotatedStep(): Promise<{ step: RunningStep; pieces: LogData[]; current: string[] }> {
  const step = await executor().start(
    stepRunning(
      `echo ready; ${untilGo(fake.isolation, '/workspace')}; for i in $(seq 1 300); do echo "line $i"; done`,
    ),
  );
  const pieces: LogData[] = [];
  for await (const piece of step.logs()) {
    if (piece.data.toString() === 'ready\n') await goOn(podOf(step));
    else pieces.push(piece);
  }
  expect(text(pieces)).toBe(lines(1, 300));
  const current = (await currentFile(podOf(step))).split('\n').slice(0, -1);
  // Rotated: the beginning is gone, as on a node after 10 MiB of log.
  expect(current).toEqual(lines(261, 300).split('\n').slice(0, -1));
  return { step, pieces, current };
}

describe('the step log', () => {
  it('a follow that goes silent (half-open) is re-opened: every line once', async () => {
    const step = await executor(300).start(
      stepRunning('for i in $(seq 1 30); do echo "line $i"; sleep 0.05; done'),
    );
    const pieces: string[] = [];
    let silenced = 0;
    for await (const piece of step.logs()) {
      pieces.push(piece.data.toString());
      if (pieces.length === 5 || pieces.length === 29) silenced += fake.silenceLogFollows(podOf(step));
    }
    expect(silenced).toBe(2);
    expect(pieces.join('')).toBe(lines(1, 30));
    expect(await step.wait()).toEqual({ status: 'succeeded', exitStatus: 0, error: undefined });
    await step.cleanup();
  });

  it('after a rotation, a reattached step goes on after the checkpoint the hub stored', async () => {
    const { step, pieces, current } = await rotatedStep();
    // The hub stored the log up to a line the current file still holds.
    const stored = Number(current[Math.floor(current.length / 2)]!.split(' ')[1]);
    const position = pieces[stored - 1]!.position!;
    step.logStored?.({ seq: stored, position });
    const pod = podOf(step);
    await waitForPod(fake.kubeConfig(), NS, pod, (p) =>
      Boolean(p.metadata?.annotations?.['outpost.dev/log-stored']),
    );
    // The agent dies here; a new one reattaches.
    const again = await executor().reattach(step.leaseId);
    expect(again?.resumedLog).toEqual({ seq: stored, position });
    const replay = await collect(again!);
    expect(text(replay)).toBe(lines(stored + 1, 300));
    expect(replay.some((p) => p.gap)).toBe(false);
    await again!.cleanup();
  });

  it('when the stored checkpoint was rotated away, the log says lines are missing, then goes on', async () => {
    const { step, pieces, current } = await rotatedStep();
    step.logStored?.({ seq: 10, position: pieces[9]!.position! });
    await waitForPod(fake.kubeConfig(), NS, podOf(step), (p) =>
      Boolean(p.metadata?.annotations?.['outpost.dev/log-stored']),
    );
    const again = await executor().reattach(step.leaseId);
    const replay = await collect(again!);
    expect(replay[0]).toMatchObject({ gap: true });
    expect(text(replay)).toBe(ROTATED + current.map((l) => `${l}\n`).join(''));
    await again!.cleanup();
  });
});
