// A step pod's life as the executor sees it, as one value and one transition function (KubeStep in
// executor.ts applies events and acts on what changed). Pure: no I/O, no timers.
//
//   life:      pending -> running -> ended -> cleaned      (pending -> ended when it never ran)
//   inputs:    waiting -> sending -> sent                  (a reattached step starts at sent)
//   pod:       exists -> deleting (by us) | gone           (gone also after our delete)
//   container: alive -> terminated                         (the step's own container)
//
// The first ending wins: once `life` is ended, its result never changes. The step's log is over once
// its container terminated or the pod is going or gone (logFinished).
import type { ExecResult } from '../executor.js';

export type Life = 'pending' | 'running' | 'ended' | 'cleaned';

export interface StepState {
  life: Life;
  /** The step's container ran (it has a log), whatever `life` is now. */
  started: boolean;
  /** Set from the first ending on. */
  result: ExecResult | undefined;
  inputs: 'waiting' | 'sending' | 'sent';
  pod: 'exists' | 'deleting' | 'gone';
  container: 'alive' | 'terminated';
}

export type StepEvent =
  /** The step's container runs. */
  | { type: 'started' }
  /** The step has its result (from the pod, a timer, an abort or a failed API call). */
  | { type: 'ended'; result: ExecResult }
  | { type: 'container-terminated' }
  | { type: 'inputs-sending' }
  | { type: 'inputs-sent' }
  /** We asked the API server to delete the pod. */
  | { type: 'deleting' }
  /** The pod is not in the API any more (or was never created). */
  | { type: 'pod-gone' }
  | { type: 'cleaned' };

export function initialState(inputsSent: boolean): StepState {
  return {
    life: 'pending',
    started: false,
    result: undefined,
    inputs: inputsSent ? 'sent' : 'waiting',
    pod: 'exists',
    container: 'alive',
  };
}

/** The state after `e`; the same object when `e` changes nothing. */
export function next(s: StepState, e: StepEvent): StepState {
  switch (e.type) {
    case 'started':
      if (s.started) return s;
      return { ...s, started: true, life: s.life === 'pending' ? 'running' : s.life };
    case 'ended':
      if (s.life === 'ended' || s.life === 'cleaned') return s;
      return { ...s, life: 'ended', result: e.result };
    case 'container-terminated':
      return s.container === 'terminated' ? s : { ...s, container: 'terminated' };
    case 'inputs-sending':
      return s.inputs === 'waiting' ? { ...s, inputs: 'sending' } : s;
    case 'inputs-sent':
      return s.inputs === 'sent' ? s : { ...s, inputs: 'sent' };
    case 'deleting':
      return s.pod === 'exists' ? { ...s, pod: 'deleting' } : s;
    case 'pod-gone':
      return s.pod === 'gone' && s.container === 'terminated'
        ? s
        : { ...s, pod: 'gone', container: 'terminated' };
    case 'cleaned':
      return s.life === 'cleaned' ? s : { ...s, life: 'cleaned' };
  }
}

/** Nothing more will be written to the step's log. */
export const logFinished = (s: StepState): boolean => s.container === 'terminated' || s.pod !== 'exists';

/** Whether the step's container started, or the step ended without it: logs() may decide. */
export const startedOrEnded = (s: StepState): boolean => s.started || s.result !== undefined;
