// The life cycle of one lease (a step run handed to an agent) as one pure transition function. The
// dispatcher keeps a lease's state, feeds it every event (the agent's messages, its session coming and
// going, an abort, a deadline passing) and carries out the step the function returns: arm the state's
// deadline, put the step back in the queue, or end it. Time is not read here: each state has at most one
// deadline, and its passing is an event like the others (lease-machine.test.ts drives it on a fake clock).
// A deadline the agent must meet (offered, aborting) judges the agent, not the hub: the dispatcher feeds
// it once the agent's session has handled what the agent sent before it passed (AgentConnection
// caughtUp), so an Accept a busy or stalled hub read late still counts, and the lease of a step the agent
// runs is neither re-queued nor revoked.

export interface LeaseTimings {
  /** How long an agent has to accept an assignment. */
  acceptWithinMs: number;
  /** How long an agent that went away keeps its steps. */
  leaseGraceMs: number;
  /** How long an agent gets to stop an aborted step (plus a margin for its answer to arrive). */
  abortGraceMs: number;
}

/** The margin after the abort grace before the hub ends an aborted step without the agent's word. */
export const ABORT_ANSWER_MARGIN_MS = 5_000;

export type LeaseState =
  /** Sent to a connected agent, not accepted yet. Deadline: the accept window. */
  | { kind: 'offered' }
  /** Assigned to an agent that is away (its session broke, or a hub restart recovered it). Deadline: grace. */
  | { kind: 'offered-away'; reason: string }
  /** Accepted by a connected agent. No deadline: the step takes as long as it takes. */
  | { kind: 'running' }
  /** Accepted, and its agent is away. Deadline: grace; `reason` is the error if it does not return. */
  | { kind: 'running-away'; reason: string }
  /** Running, and the agent was asked to stop it. Deadline: the abort grace and margin. */
  | { kind: 'aborting' };

export type LeaseEvent =
  | { kind: 'accepted' }
  | { kind: 'rejected'; reason: string }
  /** The agent's session ended. `reason`: the error if a running step's agent does not return. */
  | { kind: 'disconnected'; reason: string }
  /** The agent is back. `held`: it listed the lease in its Hello. */
  | { kind: 'reconnected'; held: boolean; processStarted: boolean | undefined; agentName: string }
  | { kind: 'abort'; reason: string }
  /** The agent reported the step's end. */
  | { kind: 'finished' }
  /** The current state's deadline passed. */
  | { kind: 'deadline' };

export type LeaseStep =
  /** The lease lives on in `state`; `changed`: a new state was entered (re-arm its deadline). */
  | { kind: 'stay'; state: LeaseState; changed: boolean }
  /** Nothing ran: back to the queue under no lease. `revoke`: tell the agent to drop it, and why. */
  | { kind: 'requeue'; why: string; revoke?: string }
  /**
   * The lease ends. `as`: with the agent's outcome, as the abort asked, or errored with `error` (the
   * step may have run: it must not run again). `revoke`: tell the agent the lease is gone, and why.
   */
  | { kind: 'end'; as: 'outcome' | 'aborted' | 'errored'; error?: string; revoke?: string };

/** The deadline a state arms, in ms from entering it; undefined: none. */
export function deadlineMs(state: LeaseState, timings: LeaseTimings): number | undefined {
  switch (state.kind) {
    case 'offered':
      return timings.acceptWithinMs;
    case 'offered-away':
    case 'running-away':
      return timings.leaseGraceMs;
    case 'aborting':
      return timings.abortGraceMs + ABORT_ANSWER_MARGIN_MS;
    case 'running':
      return undefined;
  }
}

/** The step run's status in the store for a live lease. */
export function storedStatus(state: LeaseState): 'assigned' | 'running' {
  return state.kind === 'offered' || state.kind === 'offered-away' ? 'assigned' : 'running';
}

const stay = (state: LeaseState, from: LeaseState): LeaseStep => ({
  kind: 'stay',
  state,
  changed: state.kind !== from.kind,
});

export function transition(state: LeaseState, event: LeaseEvent): LeaseStep {
  switch (event.kind) {
    case 'accepted':
      return state.kind === 'offered' ? stay({ kind: 'running' }, state) : stay(state, state);
    case 'rejected':
      return state.kind === 'offered'
        ? { kind: 'requeue', why: `rejected: ${event.reason}` }
        : stay(state, state);
    case 'disconnected':
      if (state.kind === 'running' || state.kind === 'aborting')
        return stay({ kind: 'running-away', reason: event.reason }, state);
      // An unaccepted assignment waits for its agent as a running step does: the agent may have accepted
      // (and started) it just before the session broke, and lists it when it is back, or not. Kept to its
      // accept deadline instead, it was re-queued while the agent, still running it, took longer than
      // that to come back (a backoff, a loaded host): the step ran twice, and the agent's stale lease held
      // a slot the re-queued step then waited for.
      if (state.kind === 'offered') return stay({ kind: 'offered-away', reason: event.reason }, state);
      return stay(state, state);
    case 'reconnected':
      // Listed in Hello: the agent runs it (an assignment accepted before the hub could record it too).
      if (event.held) return stay({ kind: 'running' }, state);
      // Not listed: lost. One that never started may run elsewhere; one that started may have done things.
      if (state.kind === 'offered' || state.kind === 'offered-away' || event.processStarted === false)
        return { kind: 'requeue', why: 'agent reconnected without it, before the step started' };
      return { kind: 'end', as: 'errored', error: `agent "${event.agentName}" restarted and lost the step` };
    case 'abort':
      // Only a connected agent running the step can be asked to stop it; otherwise it ends here, now.
      if (state.kind === 'running') return stay({ kind: 'aborting' }, state);
      if (state.kind === 'aborting') return stay(state, state);
      return { kind: 'end', as: 'aborted', revoke: state.kind === 'offered' ? event.reason : undefined };
    case 'finished':
      return { kind: 'end', as: 'outcome' };
    case 'deadline':
      switch (state.kind) {
        case 'offered':
          return { kind: 'requeue', why: 'not accepted in time', revoke: 'not accepted in time' };
        case 'offered-away':
          return { kind: 'requeue', why: 'agent did not return' };
        case 'running-away':
          return { kind: 'end', as: 'errored', error: state.reason };
        case 'aborting':
          return { kind: 'end', as: 'aborted', revoke: 'abort grace elapsed' };
        case 'running':
          return stay(state, state);
      }
  }
}
