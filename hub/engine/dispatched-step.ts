// A step run that agents execute (task, get, put, check): queues it (or re-attaches to it after a hub
// restart), aborts it with its scope, and waits for its end. The leaf runners add what is theirs.

import type { Dispatcher } from '../dispatch/dispatcher.js';
import type { OutputArtifact, StepContext, StepOutcome, StepSpec } from '../dispatch/types.js';
import { BuildEvents, type BuildEventType } from '../events/build-events.js';
import type { Announcement, StepRun } from '../store/store.js';
import type { BuildRun, Result } from './build-run.js';
import { abortReasonOf, type Scope } from './scope.js';

export const TERMINAL_STEP_STATUSES = new Set(['succeeded', 'failed', 'errored', 'aborted']);

/** What a dispatched step run keeps in the store: what to dispatch, and where it belongs. */
export interface StoredDispatchSpec {
  spec: StepSpec;
  context: StepContext;
}

/** What a finished dispatched step run leaves (StepRun.result). */
export interface DispatchedResult {
  outputs: OutputArtifact[];
  resourceResult?: unknown;
}

export interface DispatchDeps {
  dispatcher: () => Dispatcher;
  /** Resolves when the step run reaches a final status (registered before the step is queued). */
  outcome: (stepRunId: number) => Promise<StepEnd>;
  /**
   * The events that announce the awaited step run's end: from now on, the dispatcher stores them
   * with the end (in its transaction), and the step's outcome says so (`announced`).
   */
  announceEnd: (stepRunId: number, events: EndEvents) => void;
}

/**
 * A step run's final outcome; `announced`: its end events were stored with it (DispatchDeps);
 * `agentName`: the agent that ran it, when the one who ended it knew (else the store says).
 */
export interface StepEnd {
  outcome: StepOutcome;
  announced: boolean;
  agentName?: string | null;
}

/** The events that announce a step run's end with an outcome. */
export type EndEvents = (outcome: StepOutcome) => { type: BuildEventType; data: Record<string, unknown> }[];

export interface Ended {
  status: Result;
  exitStatus: number | null;
  error: string | null;
  outputs: OutputArtifact[];
  resourceResult: unknown;
  /** The agent that ran it (it likely still has the outputs cached). */
  agentName: string | null;
  /** Its end events were stored with its end (awaitDispatched's `endEvents`): not to emit again. */
  announced: boolean;
}

/** The context a build's step runs carry to agents. */
export function stepContext(build: BuildRun, stepName: string): StepContext {
  const view = build.build;
  return {
    team: view.teamName,
    pipeline: view.pipelineName,
    job: view.jobName,
    buildName: view.name,
    buildId: view.id,
    stepName,
    stepRunId: 0,
  };
}

/** A finished run's outcome, read from the store (a replay). */
export function endedFromStore(run: StepRun): Ended {
  const result = run.result as DispatchedResult | null;
  return {
    status: run.status as Result,
    exitStatus: run.exitStatus,
    error: run.error,
    outputs: result?.outputs ?? [],
    resourceResult: result?.resourceResult,
    agentName: run.agentName,
    announced: false,
  };
}

/** A finished run's outcome as the dispatcher reported it, read back from the store. */
export function outcomeFromStore(run: StepRun): StepOutcome {
  const { status, exitStatus, error, outputs, resourceResult } = endedFromStore(run);
  return {
    status: status,
    exitStatus,
    error,
    outputs,
    ...(resourceResult === undefined ? {} : { resourceResult }),
  };
}

/**
 * Queues (or re-attaches to) a step run and waits for its end, aborting it with the scope. A `fresh`
 * run was just created, so it is pending; one loaded from the store may have moved on since.
 * `preferAgent` (holding its inputs) gets it when it has room; `endEvents`, when given, are stored
 * with its end unless it ended before this call (Ended.announced says which).
 */
export async function awaitDispatched(
  deps: DispatchDeps,
  run: StepRun,
  fresh: boolean,
  scope: Scope,
  build: BuildRun,
  options: { preferAgent?: string; endEvents?: EndEvents } = {},
): Promise<Ended> {
  const { preferAgent, endEvents } = options;
  const dispatcher = deps.dispatcher();
  const outcome = deps.outcome(run.id);
  const current = fresh ? run : ((await build.deps.store.getStepRun(run.id)) ?? run);
  if (TERMINAL_STEP_STATUSES.has(current.status)) return endedFromStore(current);
  // Only now: an end the re-read above saw was not announced.
  if (endEvents) deps.announceEnd(run.id, endEvents);
  if (current.status === 'pending') {
    const stored = current.spec as StoredDispatchSpec;
    await dispatcher.enqueue(current, stored.spec, { ...stored.context, stepRunId: current.id }, preferAgent);
  }
  return endOf(deps, current, outcome, scope, build);
}

/**
 * Creates a step run ready to run and hands it to the dispatcher at once (Dispatcher.submit: with an
 * agent free, created assigned in one transaction with `initialize` and the assignment's events),
 * then waits for its end as awaitDispatched does. `onCreated` hears of the run as soon as it exists.
 */
export async function submitDispatched(
  deps: DispatchDeps,
  step: {
    planId: string;
    name: string;
    stored: StoredDispatchSpec;
    /** The step's initialize event, stored with it. */
    initialize: Announcement;
    onCreated: (run: StepRun) => void;
  },
  scope: Scope,
  build: BuildRun,
  options: { preferAgent?: string; endEvents?: EndEvents } = {},
): Promise<Ended> {
  let outcome: Promise<StepEnd> | undefined;
  const run = await deps.dispatcher().submit({
    buildId: build.build.id,
    planId: step.planId,
    spec: step.stored.spec,
    context: step.stored.context,
    ...(options.preferAgent === undefined ? {} : { preferAgent: options.preferAgent }),
    // The build's first step run stores the build's start too (BuildRun.withStart).
    create: (claim, selected) =>
      build.withStart((start) =>
        build.deps.store.createStepRun(
          {
            buildId: build.build.id,
            planId: step.planId,
            name: step.name,
            spec: step.stored,
            at: build.deps.now(),
            ...(claim && { assigned: claim }),
            ...(start && { startsBuild: { at: start.at } }),
          },
          BuildEvents.joined(start?.announcement, step.initialize, selected),
          // Shares the turn's commit, assigned or queued: an Assign leaves once it is committed (the
          // session holds it), and a queued step run needs no commit of its own either.
          { deferCommit: true },
        ),
      ),
    created: (run) => {
      step.onCreated(run);
      outcome = deps.outcome(run.id);
      if (options.endEvents) deps.announceEnd(run.id, options.endEvents);
    },
  });
  if (!outcome) throw new Error(`step run ${run.id} was created without its end awaited`);
  return endOf(deps, run, outcome, scope, build);
}

/** Waits for a queued or assigned step run's end, aborting it with the scope. */
async function endOf(
  deps: DispatchDeps,
  run: StepRun,
  outcome: Promise<StepEnd>,
  scope: Scope,
  build: BuildRun,
): Promise<Ended> {
  const dispatcher = deps.dispatcher();
  const onAbort = () => void dispatcher.abort(run.id, abortReasonOf(scope.signal).ending);
  if (scope.signal.aborted) onAbort();
  else scope.signal.addEventListener('abort', onAbort, { once: true });
  const { outcome: ended, announced, agentName } = await outcome;
  scope.signal.removeEventListener('abort', onAbort);
  const ranOn = agentName !== undefined ? agentName : (await build.deps.store.getStepRun(run.id))?.agentName;
  return {
    status: ended.status,
    exitStatus: ended.exitStatus,
    error: ended.error,
    outputs: ended.outputs,
    resourceResult: ended.resourceResult,
    agentName: ranOn ?? run.agentName,
    announced,
  };
}
