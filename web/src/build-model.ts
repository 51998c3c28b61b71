// What the build page shows, folded from the build's events: per step (by origin id) its state, the
// agent and pool it ran on, and its log (log-window.ts); and the build's own status.

import type { BuildEventEnvelope, BuildStatus } from '../../hub/api/types.js';
import { StepLog } from './log-window.js';

export type StepState = 'pending' | 'running' | 'succeeded' | 'failed' | 'errored';

export interface StepView {
  state: StepState;
  worker: string | null;
  pool: string | null;
  waiting: string | null;
  startedAt: number | null;
  endedAt: number | null;
  log: StepLog;
}

export interface BuildModel {
  status: BuildStatus | null;
  steps: Map<string, StepView>;
}

export function emptyModel(): BuildModel {
  return { status: null, steps: new Map() };
}

interface Data {
  origin?: { id?: string };
  payload?: string;
  message?: string;
  time?: number;
  exit_status?: number;
  succeeded?: boolean;
  selected_worker?: string;
  pool?: string;
  reason?: string;
  status?: BuildStatus;
}

export function stepOf(model: BuildModel, id: string): StepView {
  let step = model.steps.get(id);
  if (!step) {
    step = {
      state: 'pending',
      worker: null,
      pool: null,
      waiting: null,
      startedAt: null,
      endedAt: null,
      log: new StepLog(),
    };
    model.steps.set(id, step);
  }
  return step;
}

/** Times in events are seconds (Concourse's envelope); the page's are Unix ms. */
const msOf = (d: Data) => (d.time === undefined ? null : d.time * 1000);

/** Applies one event's effect on the steps' and the build's state (not on logs), in place. */
export function applyState(model: BuildModel, e: BuildEventEnvelope): void {
  const d = e.data as Data;
  if (e.event === 'status' && d.status) {
    model.status = d.status;
    return;
  }
  // A log of no step (why the build is pending) belongs to no step's view.
  if (d.origin?.id === undefined) return;
  const step = stepOf(model, d.origin.id);
  const at = msOf(d);
  if (e.event.startsWith('initialize') || e.event.startsWith('start')) {
    step.state = 'running';
    step.startedAt ??= at;
  } else if (e.event === 'selected-worker') {
    step.worker = d.selected_worker ?? null;
    step.pool = d.pool ?? null;
    step.waiting = null;
  } else if (e.event === 'waiting-for-worker') {
    step.waiting = d.reason ?? null;
  } else if (e.event.startsWith('finish')) {
    // finish-task/-get/-put carry the exit status; finish (a check, load_var, set_pipeline) `succeeded`.
    const succeeded = d.succeeded ?? d.exit_status === 0;
    step.state = succeeded ? 'succeeded' : 'failed';
    step.endedAt = at;
  } else if (e.event === 'error') {
    step.state = 'errored';
    step.endedAt = at;
  } else if (e.event === 'log' && step.state === 'pending') step.state = 'running';
}

/**
 * The text an event adds to its step's log, as the hub's line index counts it (BuildEventPage.start): a
 * `log` event's payload, an `error` event's message on a line of its own.
 */
export function logTextOf(e: BuildEventEnvelope): { step: string; text: string; time: number } | undefined {
  const d = e.data as Data;
  // A log of no step is the hub's own note (why the build waits): no step's text.
  const step = d.origin?.id;
  if (step === undefined) return undefined;
  const time = msOf(d) ?? 0;
  if (e.event === 'log' && d.payload !== undefined) return { step, text: d.payload, time };
  if (e.event === 'error') return { step, text: `${d.payload ?? d.message ?? 'error'}\n`, time };
  return undefined;
}
