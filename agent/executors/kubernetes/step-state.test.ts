// The step pod's life (step-state.ts), table-driven: each row is a history of events and what it leads to.
import { describe, expect, it } from 'vitest';
import type { ExecResult } from '../executor.js';
import {
  initialState,
  logFinished,
  next,
  startedOrEnded,
  type StepEvent,
  type StepState,
} from './step-state.js';

const ok: ExecResult = { status: 'succeeded', exitStatus: 0, error: undefined };
const gone: ExecResult = { status: 'errored', exitStatus: -1, error: 'deleted by someone else' };
const aborted: ExecResult = { status: 'aborted', exitStatus: -1, error: 'interrupted' };

const run = (events: StepEvent[], inputsSent = false): StepState =>
  events.reduce(next, initialState(inputsSent));

interface Row {
  name: string;
  events: StepEvent[];
  inputsSent?: boolean;
  expect: Partial<StepState>;
  logFinished: boolean;
  startedOrEnded: boolean;
}

const rows: Row[] = [
  {
    name: 'a new step waits for its inputs, pending',
    events: [],
    expect: { life: 'pending', inputs: 'waiting', pod: 'exists', container: 'alive', started: false },
    logFinished: false,
    startedOrEnded: false,
  },
  {
    name: 'a reattached step has its inputs',
    events: [],
    inputsSent: true,
    expect: { inputs: 'sent' },
    logFinished: false,
    startedOrEnded: false,
  },
  {
    name: 'inputs go in, then the step runs',
    events: [{ type: 'inputs-sending' }, { type: 'inputs-sent' }, { type: 'started' }],
    expect: { life: 'running', inputs: 'sent', started: true },
    logFinished: false,
    startedOrEnded: true,
  },
  {
    name: 'inputs-sending after they were sent changes nothing',
    events: [{ type: 'inputs-sent' }, { type: 'inputs-sending' }],
    expect: { inputs: 'sent' },
    logFinished: false,
    startedOrEnded: false,
  },
  {
    name: 'the container ends: the step has its result and its log is over',
    events: [{ type: 'started' }, { type: 'container-terminated' }, { type: 'ended', result: ok }],
    expect: { life: 'ended', result: ok, started: true },
    logFinished: true,
    startedOrEnded: true,
  },
  {
    name: 'the first ending wins',
    events: [{ type: 'started' }, { type: 'ended', result: aborted }, { type: 'ended', result: ok }],
    expect: { life: 'ended', result: aborted },
    logFinished: false,
    startedOrEnded: true,
  },
  {
    name: 'ended while pending, never started',
    events: [{ type: 'ended', result: gone }],
    expect: { life: 'ended', started: false },
    logFinished: false,
    startedOrEnded: true,
  },
  {
    name: 'seen started after it ended (one pod update carries both): ended, with a log',
    events: [{ type: 'ended', result: ok }, { type: 'started' }],
    expect: { life: 'ended', started: true },
    logFinished: false,
    startedOrEnded: true,
  },
  {
    name: 'our delete ends the log',
    events: [{ type: 'started' }, { type: 'deleting' }],
    expect: { pod: 'deleting', container: 'alive' },
    logFinished: true,
    startedOrEnded: true,
  },
  {
    name: 'a pod gone takes the container with it',
    events: [{ type: 'started' }, { type: 'pod-gone' }],
    expect: { pod: 'gone', container: 'terminated' },
    logFinished: true,
    startedOrEnded: true,
  },
  {
    name: 'gone stays gone when a late delete is sent',
    events: [{ type: 'pod-gone' }, { type: 'deleting' }],
    expect: { pod: 'gone' },
    logFinished: true,
    startedOrEnded: false,
  },
  {
    name: 'cleaned is final: no ending or start after it',
    events: [{ type: 'ended', result: ok }, { type: 'cleaned' }, { type: 'ended', result: gone }],
    expect: { life: 'cleaned', result: ok },
    logFinished: false,
    startedOrEnded: true,
  },
];

describe('step state', () => {
  it.each(rows)('$name', (row) => {
    const state = run(row.events, row.inputsSent);
    expect(state).toMatchObject(row.expect);
    expect(logFinished(state)).toBe(row.logFinished);
    expect(startedOrEnded(state)).toBe(row.startedOrEnded);
  });

  it('an event that changes nothing returns the same state', () => {
    const s = run([{ type: 'started' }]);
    expect(next(s, { type: 'started' })).toBe(s);
    const ended = run([{ type: 'ended', result: ok }]);
    expect(next(ended, { type: 'ended', result: gone })).toBe(ended);
  });
});
