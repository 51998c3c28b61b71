// What the build page shows, folded from the build's events: per step (by origin id) its state, the
// agent and pool it ran on, and its log lines; and the build's own status.

import type { BuildEventEnvelope, BuildStatus } from '../../hub/api/types.js';

export type StepState = 'pending' | 'running' | 'succeeded' | 'failed' | 'errored';

export interface StepView {
  state: StepState;
  worker: string | null;
  pool: string | null;
  waiting: string | null;
  startedAt: number | null;
  endedAt: number | null;
  /** Complete lines, then the line still being written (possibly empty). */
  lines: string[];
  /** When each line began (Unix ms), index for index with `lines`. */
  times: number[];
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
  time?: number;
  exit_status?: number;
  succeeded?: boolean;
  selected_worker?: string;
  pool?: string;
  reason?: string;
  status?: BuildStatus;
}

function stepOf(model: BuildModel, id: string): StepView {
  let step = model.steps.get(id);
  if (!step) {
    step = {
      state: 'pending',
      worker: null,
      pool: null,
      waiting: null,
      startedAt: null,
      endedAt: null,
      lines: [''],
      times: [0],
    };
    model.steps.set(id, step);
  }
  return step;
}

/** Applies one event to the model, in place. Times in events are seconds (Concourse's envelope). */
export function applyEvent(model: BuildModel, e: BuildEventEnvelope): void {
  const d = e.data as Data;
  if (e.event === 'status' && d.status) {
    model.status = d.status;
    return;
  }
  // A log of no step (why the build is pending) belongs to no step's view.
  if (d.origin?.id === undefined) return;
  const step = stepOf(model, d.origin.id);
  const at = d.time === undefined ? null : d.time * 1000;
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
    appendLog(step, `${d.payload ?? (e.data as { message?: string }).message ?? 'error'}\n`, at ?? 0);
  } else if (e.event === 'log' && d.payload !== undefined) {
    if (step.state === 'pending') step.state = 'running';
    appendLog(step, d.payload, at ?? 0);
  }
}

function appendLog(step: StepView, payload: string, at: number): void {
  const parts = payload.split('\n');
  const last = step.lines.length - 1;
  if (step.lines[last] === '') step.times[last] = at;
  step.lines[last] = (step.lines[last] ?? '') + (parts[0] ?? '');
  // One at a time: a chunk may hold tens of thousands of lines, too many for push(...parts).
  for (let i = 1; i < parts.length; i++) {
    step.lines.push(parts[i] ?? '');
    step.times.push(at);
  }
}

/** The step's lines without the empty one a final newline leaves. */
export function shownLines(step: StepView): number {
  return step.lines.at(-1) === '' ? step.lines.length - 1 : step.lines.length;
}
