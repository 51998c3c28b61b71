// The lease life cycle, table-driven on a fake clock: each row is a lease's story (events at instants),
// and the expected end (when and how the lease ended, or the state it is left in). The clock fires the
// state's deadline as the dispatcher's timer would, before any event at or after it.

import { describe, expect, it } from 'vitest';
import {
  ABORT_ANSWER_MARGIN_MS,
  deadlineMs,
  transition,
  type LeaseEvent,
  type LeaseState,
  type LeaseStep,
} from './lease-machine.js';

const timings = { acceptWithinMs: 5_000, leaseGraceMs: 120_000, abortGraceMs: 10_000 };
const GRACE = timings.leaseGraceMs;
const ACCEPT = timings.acceptWithinMs;
const ABORT = timings.abortGraceMs + ABORT_ANSWER_MARGIN_MS;

type Ended = Exclude<LeaseStep, { kind: 'stay' }>;
type Story = { at: number; event: LeaseEvent }[];

/** Runs a story from `start` (entered at 0) to `until`; returns how and when it ended, or the state left. */
function run(start: LeaseState, story: Story, until: number) {
  let state = start;
  let deadline = deadlineMs(state, timings);
  let enteredAt = 0;
  const feed = (at: number, event: LeaseEvent): { at: number; step: Ended } | undefined => {
    const step = transition(state, event);
    if (step.kind !== 'stay') return { at, step };
    if (step.changed) {
      state = step.state;
      enteredAt = at;
      deadline = deadlineMs(state, timings);
    }
    return undefined;
  };
  for (const { at, event } of [...story, { at: until, event: undefined }]) {
    if (deadline !== undefined && enteredAt + deadline <= at) {
      const ended = feed(enteredAt + deadline, { kind: 'deadline' });
      if (ended) return { ended };
    }
    if (event) {
      const ended = feed(at, event);
      if (ended) return { ended };
    }
  }
  return { left: state };
}

const reconnected = (held: boolean, processStarted?: boolean): LeaseEvent => ({
  kind: 'reconnected',
  held,
  processStarted,
  agentName: 'eu/a',
});
const away = (reason = 'gone too long'): LeaseEvent => ({ kind: 'disconnected', reason });
const offered: LeaseState = { kind: 'offered' };

const rows: { name: string; start?: LeaseState; story: Story; until: number; expect: unknown }[] = [
  {
    name: 'accepted in time: runs, with no deadline',
    story: [{ at: 4_999, event: { kind: 'accepted' } }],
    until: 10 * GRACE,
    expect: { left: { kind: 'running' } },
  },
  {
    name: 'not accepted: back to the queue at the accept deadline, the agent told',
    story: [],
    until: ACCEPT,
    expect: {
      ended: {
        at: ACCEPT,
        step: { kind: 'requeue', why: 'not accepted in time', revoke: 'not accepted in time' },
      },
    },
  },
  {
    name: 'rejected: back to the queue at once',
    story: [{ at: 100, event: { kind: 'rejected', reason: 'at capacity' } }],
    until: ACCEPT,
    expect: { ended: { at: 100, step: { kind: 'requeue', why: 'rejected: at capacity' } } },
  },
  {
    name: 'an accept arriving after the deadline is too late',
    story: [{ at: ACCEPT + 1, event: { kind: 'accepted' } }],
    until: 2 * ACCEPT,
    expect: {
      ended: {
        at: ACCEPT,
        step: { kind: 'requeue', why: 'not accepted in time', revoke: 'not accepted in time' },
      },
    },
  },
  {
    name: 'unaccepted and disconnected: resumes if the agent lists it, even after the accept deadline',
    story: [
      { at: 1_000, event: away() },
      // The agent accepted (and started) it as the session broke, and took longer than the accept window
      // to come back: re-queued at that deadline, the step ran twice.
      { at: ACCEPT + 3_000, event: reconnected(true) },
    ],
    until: 10 * GRACE,
    expect: { left: { kind: 'running' } },
  },
  {
    name: 'unaccepted and disconnected, the agent back without it: back to the queue at once',
    story: [
      { at: 1_000, event: away() },
      { at: ACCEPT + 3_000, event: reconnected(false) },
    ],
    until: 10 * GRACE,
    expect: {
      ended: {
        at: ACCEPT + 3_000,
        step: { kind: 'requeue', why: 'agent reconnected without it, before the step started' },
      },
    },
  },
  {
    name: 'unaccepted and disconnected, the agent never back: back to the queue at the grace',
    story: [{ at: 1_000, event: away() }],
    until: 10 * GRACE,
    expect: { ended: { at: 1_000 + GRACE, step: { kind: 'requeue', why: 'agent did not return' } } },
  },
  {
    name: 'running, agent away and back within the grace: resumes, the grace forgotten',
    story: [
      { at: 10, event: { kind: 'accepted' } },
      { at: 1_000, event: away() },
      { at: 1_000 + GRACE - 1, event: reconnected(true) },
    ],
    until: 10 * GRACE,
    expect: { left: { kind: 'running' } },
  },
  {
    name: 'running, agent away past the grace: errored with the reason, at the grace',
    story: [
      { at: 10, event: { kind: 'accepted' } },
      { at: 1_000, event: away('agent "eu/a" disconnected and did not come back within the grace period') },
    ],
    until: 10 * GRACE,
    expect: {
      ended: {
        at: 1_000 + GRACE,
        step: {
          kind: 'end',
          as: 'errored',
          error: 'agent "eu/a" disconnected and did not come back within the grace period',
        },
      },
    },
  },
  {
    name: 'the agent comes back without a step it started: errored, it must not run twice',
    story: [
      { at: 10, event: { kind: 'accepted' } },
      { at: 20, event: away() },
      { at: 30, event: reconnected(false, true) },
    ],
    until: GRACE,
    expect: {
      ended: {
        at: 30,
        step: { kind: 'end', as: 'errored', error: 'agent "eu/a" restarted and lost the step' },
      },
    },
  },
  {
    name: 'the agent comes back without a step it never started: back to the queue',
    story: [
      { at: 10, event: { kind: 'accepted' } },
      { at: 20, event: away() },
      { at: 30, event: reconnected(false, false) },
    ],
    until: GRACE,
    expect: {
      ended: {
        at: 30,
        step: { kind: 'requeue', why: 'agent reconnected without it, before the step started' },
      },
    },
  },
  {
    name: 'abort while running: the agent gets the abort grace, then the hub ends it, telling the agent',
    story: [
      { at: 10, event: { kind: 'accepted' } },
      { at: 100, event: { kind: 'abort', reason: 'build aborted' } },
    ],
    until: GRACE,
    expect: {
      ended: { at: 100 + ABORT, step: { kind: 'end', as: 'aborted', revoke: 'abort grace elapsed' } },
    },
  },
  {
    name: 'abort while running: the agent reports the end within the grace',
    story: [
      { at: 10, event: { kind: 'accepted' } },
      { at: 100, event: { kind: 'abort', reason: 'build aborted' } },
      { at: 2_000, event: { kind: 'finished' } },
    ],
    until: GRACE,
    expect: { ended: { at: 2_000, step: { kind: 'end', as: 'outcome' } } },
  },
  {
    name: 'abort before the accept: ends at once, the agent told to drop it',
    story: [{ at: 100, event: { kind: 'abort', reason: 'build aborted' } }],
    until: GRACE,
    expect: { ended: { at: 100, step: { kind: 'end', as: 'aborted', revoke: 'build aborted' } } },
  },
  {
    name: 'abort while the agent is away: ends at once (nobody to ask)',
    story: [
      { at: 10, event: { kind: 'accepted' } },
      { at: 20, event: away() },
      { at: 100, event: { kind: 'abort', reason: 'build aborted' } },
    ],
    until: GRACE,
    expect: { ended: { at: 100, step: { kind: 'end', as: 'aborted' } } },
  },
  {
    name: 'aborting, then the agent goes away: the grace replaces the abort deadline',
    story: [
      { at: 10, event: { kind: 'accepted' } },
      { at: 100, event: { kind: 'abort', reason: 'build aborted' } },
      { at: 200, event: away() },
    ],
    until: 10 * GRACE,
    expect: { ended: { at: 200 + GRACE, step: { kind: 'end', as: 'errored', error: 'gone too long' } } },
  },
  {
    name: 'recovered after a hub restart, assigned, agent never back: re-queued after the grace',
    start: { kind: 'offered-away', reason: 'hub restart' },
    story: [],
    until: 10 * GRACE,
    expect: { ended: { at: GRACE, step: { kind: 'requeue', why: 'agent did not return' } } },
  },
  {
    name: 'recovered after a hub restart, running, agent back and listing it: resumes',
    start: { kind: 'running-away', reason: 'hub restart' },
    story: [{ at: GRACE - 1, event: reconnected(true) }],
    until: 10 * GRACE,
    expect: { left: { kind: 'running' } },
  },
  {
    name: 'recovered after a hub restart, running, agent never back: errored with the restart reason',
    start: {
      kind: 'running-away',
      reason: 'agent "eu/a" did not reconnect within the grace period after a hub restart',
    },
    story: [],
    until: 10 * GRACE,
    expect: {
      ended: {
        at: GRACE,
        step: {
          kind: 'end',
          as: 'errored',
          error: 'agent "eu/a" did not reconnect within the grace period after a hub restart',
        },
      },
    },
  },
];

describe('lease life cycle', () => {
  it.each(rows)('$name', ({ start, story, until, expect: expected }) => {
    expect(run(start ?? offered, story, until)).toEqual(expected);
  });
});
