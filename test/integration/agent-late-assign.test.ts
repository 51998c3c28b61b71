// An agent that reads an Assign after the hub revoked it (its process was stopped, its event loop
// blocked) finds the hub's LeaseRevoked right behind it in its stream. It must not start the step in
// between: the hub has re-queued it and another agent runs it. The agent answers an Assign in the turn
// it reads it, so its own clock never sees this lateness; the order of the stream is what keeps the step
// from running twice (docs/protocol.md, "Accept deadline").

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnAgentProcess } from '../support/agent-process.js';
import {
  finalStatus,
  readBuildEvents,
  setPipeline,
  shellPipeline,
  startTestAgent,
  startTestHub,
  triggerJob,
  waitForEvents,
} from '../support/harness.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('an agent that reads its Assign after the accept window', () => {
  it('does not start the step the hub revoked and gave to another agent', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-late-assign-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 }));
    const hub = await startTestHub({ acceptWithinMs: 1_000 });
    cleanups.push(() => hub.close());
    const late = await spawnAgentProcess(hub, {
      dir: await mkdtemp(path.join(dir, 'late-')),
      name: 'late',
      token: await hub.newAgentToken('late'),
    });
    cleanups.push(() => void late.child.kill('SIGKILL'));
    await late.logged('connected to the hub');

    const marks = path.join(dir, 'started');
    await setPipeline(hub, 'p', shellPipeline(`echo started >> ${marks}; echo ran`));
    // The agent's process stops: the Assign and, past the window, the LeaseRevoked wait in its socket.
    late.child.kill('SIGSTOP');
    cleanups.push(() => void late.child.kill('SIGCONT'));
    const buildId = await triggerJob(hub, 'p', 'job');
    await waitForEvents(hub, buildId, 'selected-worker');
    const other = await startTestAgent(hub, { name: 'other' });
    cleanups.push(() => other.stop());
    await waitForEvents(hub, buildId, 'finish-task');
    expect(finalStatus(await readBuildEvents(hub, buildId))).toBe('succeeded');

    late.child.kill('SIGCONT');
    await late.logged('dropping step');
    // What the late agent did with the Assign it read first is logged by now (it starts a step at once).
    expect(late.output()).not.toContain('"step started"');
    expect((await readFile(marks, 'utf8')).split('\n').filter(Boolean)).toEqual(['started']);
    // An agent process starting (tsx compiles it) can take most of a minute on a loaded machine.
  }, 180_000);
});
