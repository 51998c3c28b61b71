// Env vars from a cluster's Secrets (ExecStep.secretEnv) need an executor that runs steps in that
// cluster. Any other executor is wrapped in refuseSecretEnv: a step asking for them ends 'errored',
// naming the var source, before anything runs.
import type { PackedArchive } from '../artifacts/archive.js';
import type { ExecResult, ExecStep, Executor, LogData, RunningStep } from './executor.js';

/** Why `step` cannot run on an executor without a cluster; undefined when it can. */
export function secretEnvProblem(step: ExecStep): string | undefined {
  const first = step.secretEnv?.[0];
  return first && `var source "${first.source}" (kubernetes) needs a kubernetes pool`;
}

/** `executor`, refusing steps with secretEnv. */
export function refuseSecretEnv(executor: Executor): Executor {
  return {
    kind: executor.kind,
    start: (step) => {
      const problem = secretEnvProblem(step);
      return problem ? Promise.resolve(new RefusedStep(step.leaseId, problem)) : executor.start(step);
    },
    ...(executor.listHeld ? { listHeld: executor.listHeld.bind(executor) } : {}),
    ...(executor.reattach ? { reattach: executor.reattach.bind(executor) } : {}),
    ...(executor.sweep ? { sweep: executor.sweep.bind(executor) } : {}),
  };
}

/** A step that never ran: errored with a message, nothing to follow or collect. */
class RefusedStep implements RunningStep {
  private readonly result: ExecResult;

  constructor(
    readonly leaseId: string,
    error: string,
  ) {
    this.result = { status: 'errored', exitStatus: -1, error };
  }

  logs(): AsyncIterable<LogData> {
    return (async function* () {})();
  }

  wait(): Promise<ExecResult> {
    return Promise.resolve(this.result);
  }

  abort(): Promise<void> {
    return Promise.resolve();
  }

  collectOutputs(): Promise<{ name: string; archive: PackedArchive }[]> {
    return Promise.resolve([]);
  }

  cleanup(): Promise<void> {
    return Promise.resolve();
  }
}
