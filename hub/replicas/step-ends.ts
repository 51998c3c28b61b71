// Replicas on PostgreSQL: a step may end on the replica holding its agent's stream while the build runs
// on the leader. The ending replica stores the outcome and sends a `step_ended` hint; the leader's engine
// reads the outcome back from the store. A lost hint is made up for by the stall audit, which delivers
// the stored outcome of a step the engine still waits for on its second pass.

import type { Logger } from 'pino';
import { outcomeFromStore, TERMINAL_STEP_STATUSES } from '../engine/dispatched-step.js';
import type { Engine } from '../engine/engine.js';
import type { Store } from '../store/store.js';
import type { ReplicaSignals } from './signals.js';

export function relayStepEnds(signals: ReplicaSignals, store: Store, engine: Engine, log: Logger): void {
  signals.on('step_ended', (payload) => {
    const stepRunId = Number(payload);
    if (!engine.waitsFor(stepRunId)) return;
    store.getStepRun(stepRunId).then(
      (run) => {
        if (run && TERMINAL_STEP_STATUSES.has(run.status))
          engine.ended(stepRunId, run.buildId, outcomeFromStore(run));
      },
      (err: unknown) => log.warn({ err, stepRunId }, 'could not read an ended step; the audit delivers it'),
    );
  });
}
