// Replicas on PostgreSQL: why an unfinished build does not progress, and what waits for an agent, read
// from the store, so every replica answers the same at once (a single hub asks its engine and
// dispatcher, which know it first-hand). The leader runs the build, but its steps wait on whichever
// replica holds (or would hold) their agent: no one replica's memory knows every step's reason. The
// store does: a queued step's reason is in its row (the replicas with agents write it), a leased
// step's is its agent's state.

import { TERMINAL_STEP_STATUSES, type StoredDispatchSpec } from '../engine/dispatched-step.js';
import type { Dispatcher } from '../dispatch/dispatcher.js';
import { leaseWaitingReason } from '../dispatch/matching.js';
import type { BuildView, Store } from '../store/store.js';

/** The reason a started build (or a pending one an engine runs) waits, from its step runs; null: none. */
export async function storedWaitingReason(store: Store, build: BuildView): Promise<string | null> {
  const open = (await store.listStepRuns(build.id)).filter((r) => !TERMINAL_STEP_STATUSES.has(r.status));
  for (const run of open) {
    if (run.status === 'pending')
      return (await store.replicaDispatch.waitingReason(run.id)) ?? 'queued for an agent';
    if (!run.agentName) continue;
    const agent = await store.getAgent(run.agentName);
    const stage = run.status === 'assigned' ? 'assigned' : 'running';
    const reason = leaseWaitingReason(run.agentName, stage, agent?.state === 'connected');
    if (reason) return reason;
  }
  return null;
}

/** The steps waiting for an agent, oldest first, as the dispatcher's queued() says them. */
export async function storedQueue(store: Store): Promise<ReturnType<Dispatcher['queued']>> {
  const out: ReturnType<Dispatcher['queued']> = [];
  for (const { run, queuedAt, reason } of await store.replicaDispatch.queued()) {
    const stored = run.spec as StoredDispatchSpec | undefined;
    if (!stored) continue;
    out.push({
      context: { ...stored.context, stepRunId: run.id },
      platform: stored.spec.platform,
      tags: stored.spec.tags,
      since: queuedAt,
      ...(reason === undefined ? {} : { reason }),
    });
  }
  return out;
}
