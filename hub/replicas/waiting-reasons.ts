// Replicas on PostgreSQL: why an unfinished build does not progress, read from the store, so every
// replica answers the same (a single hub asks its engine and dispatcher, which know it first-hand).
// The leader runs the build, but its steps wait on whichever replica holds (or would hold) their agent:
// no one replica's memory knows every step's reason. The store does: a queued step's reason is its last
// waiting-for-worker event (the replicas with agents emit it), a leased step's is its agent's state.

import { TERMINAL_STEP_STATUSES } from '../engine/dispatched-step.js';
import { leaseWaitingReason } from '../dispatch/matching.js';
import type { BuildView, Store } from '../store/store.js';

/** Non-log events read at most to find a queued step's reason (a build's first steps are early). */
const EVENTS_READ = 10_000;

/** The reason a started build (or a pending one an engine runs) waits, from its step runs; null: none. */
export async function storedWaitingReason(store: Store, build: BuildView): Promise<string | null> {
  const open = (await store.listStepRuns(build.id)).filter((r) => !TERMINAL_STEP_STATUSES.has(r.status));
  for (const run of open) {
    if (run.status === 'pending')
      return (await queuedReason(store, build.id, run.planId)) ?? 'queued for an agent';
    if (!run.agentName) continue;
    const agent = await store.getAgent(run.agentName);
    const stage = run.status === 'assigned' ? 'assigned' : 'running';
    const reason = leaseWaitingReason(run.agentName, stage, agent?.state === 'connected');
    if (reason) return reason;
  }
  return null;
}

/** The step's last waiting-for-worker reason, unless an agent was selected for it since. */
async function queuedReason(store: Store, buildId: number, planId: string): Promise<string | undefined> {
  let reason: string | undefined;
  for (const event of await store.buildEvents.withoutLogs(buildId, 0, EVENTS_READ)) {
    if (event.type !== 'waiting-for-worker' && event.type !== 'selected-worker') continue;
    const data = JSON.parse(event.json) as { origin?: { id?: string }; reason?: string };
    if (data.origin?.id !== planId) continue;
    reason = event.type === 'waiting-for-worker' ? data.reason : undefined;
  }
  return reason;
}
