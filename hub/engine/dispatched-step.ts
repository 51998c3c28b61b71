// A step run that agents execute (task, get, put, check): queues it (or re-attaches to it after a hub
// restart), aborts it with its scope, and waits for its end. The leaf runners add what is theirs.

import type { Dispatcher } from '../dispatch/dispatcher.js';
import type { OutputArtifact, StepContext, StepOutcome, StepSpec } from '../dispatch/types.js';
import type { StepRun } from '../store/store.js';
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
  outcome: (stepRunId: number) => Promise<StepOutcome>;
}

export interface Ended {
  status: Result;
  exitStatus: number | null;
  error: string | null;
  outputs: OutputArtifact[];
  resourceResult: unknown;
  /** The agent that ran it (it likely still has the outputs cached). */
  agentName: string | null;
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
 */
export async function awaitDispatched(
  deps: DispatchDeps,
  run: StepRun,
  fresh: boolean,
  scope: Scope,
  build: BuildRun,
  preferAgent?: string,
): Promise<Ended> {
  const dispatcher = deps.dispatcher();
  const outcome = deps.outcome(run.id);
  const current = fresh ? run : ((await build.deps.store.getStepRun(run.id)) ?? run);
  if (TERMINAL_STEP_STATUSES.has(current.status)) return endedFromStore(current);
  if (current.status === 'pending') {
    const stored = current.spec as StoredDispatchSpec;
    await dispatcher.enqueue(current, stored.spec, { ...stored.context, stepRunId: current.id }, preferAgent);
  }
  const onAbort = () => void dispatcher.abort(run.id, abortReasonOf(scope.signal).ending);
  if (scope.signal.aborted) onAbort();
  else scope.signal.addEventListener('abort', onAbort, { once: true });
  const ended = await outcome;
  scope.signal.removeEventListener('abort', onAbort);
  const after = await build.deps.store.getStepRun(run.id);
  return {
    status: ended.status,
    exitStatus: ended.exitStatus,
    error: ended.error,
    outputs: ended.outputs,
    resourceResult: ended.resourceResult,
    agentName: after?.agentName ?? current.agentName,
  };
}
