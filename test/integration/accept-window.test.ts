// The accept window judges the agent's lateness, not the hub's. Under load the hub read an agent's
// Accept after the lease's deadline although the agent had sent it at once: the step went back to the
// queue and the agent, already running it, was told to drop it (a double run, had it done anything).

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { startChildTestHub } from '../support/child-test-hub.js';
import {
  finalStatus,
  logText,
  readBuildEvents,
  setPipeline,
  shellPipeline,
  triggerJob,
} from '../support/harness.js';
import { finishedMessage, heartbeating, rawAgent, stdoutMessage } from '../support/raw-agent.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A hub child's start (tsx compiles it first) can take over 30 s on a loaded machine. */
const HUB_START_MS = 60_000;
/** The hub's default accept window (hub.ts acceptWithinMs). */
const ACCEPT_WINDOW_MS = 5_000;

describe('a hub that stalls past the accept window', () => {
  it('keeps the lease whose Accept reached it in time: no re-queue, no revoke, one run', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-accept-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const { hub, proc } = await startChildTestHub(path.join(dir, 'hub'), {
      args: ['--heartbeat', '1s'],
      readyTimeoutMs: HUB_START_MS,
    });
    cleanups.push(() => hub.close());
    const raw = rawAgent(hub.grpcAddress, await hub.newAgentToken('raw'), { agentName: 'raw' });
    cleanups.push(() => raw.close());
    await raw.next('welcome');
    cleanups.push(heartbeating(raw, 200));
    await setPipeline(hub, 'p', shellPipeline('echo x'));
    const buildId = await triggerJob(hub, 'p', 'job');
    const { leaseId } = await raw.next('assign');

    // The hub's process is frozen (a loaded host, a long pause) while the agent's Accept, sent at once,
    // waits in its socket; it wakes past the accept window, the deadline's timer due before the read.
    proc.child.kill('SIGSTOP');
    cleanups.push(() => void proc.child.kill('SIGCONT'));
    raw.send({ msg: { $case: 'accepted', value: { leaseId } } });
    await sleep(ACCEPT_WINDOW_MS + 1_000); // the stall itself: no event marks its end
    proc.child.kill('SIGCONT');

    raw.send({ msg: { $case: 'started', value: { leaseId, atUnixMs: Date.now() } } });
    raw.send(stdoutMessage(leaseId, 1, Buffer.from('ran\n')));
    raw.send(finishedMessage(leaseId, 1));
    // Refused, the Finished gets a LeaseRevoked instead of its acknowledgement.
    await Promise.race([raw.next('finishedAck'), raw.next('leaseRevoked')]);

    expect(raw.received.filter((m) => m.msg?.$case === 'leaseRevoked')).toEqual([]);
    const events = await readBuildEvents(hub, buildId);
    expect(finalStatus(events)).toBe('succeeded');
    expect(logText(events)).toBe('ran\n');
    expect(raw.received.filter((m) => m.msg?.$case === 'assign')).toHaveLength(1);
    expect(proc.logs.filter((l) => l.msg === 'step re-queued')).toEqual([]);
  });
});
