// Env vars from a cluster's Secrets (ExecStep.secretEnv) need an executor that runs steps in that
// cluster. Any other executor is wrapped in refuseSecretEnv: a step asking for them ends 'errored',
// naming the var source, before anything runs.
import { ErroredStep } from './errored-step.js';
import type { ExecStep, Executor } from './executor.js';

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
      return problem ? Promise.resolve(new ErroredStep(step.leaseId, problem)) : executor.start(step);
    },
    ...(executor.listHeld ? { listHeld: executor.listHeld.bind(executor) } : {}),
    ...(executor.reattach ? { reattach: executor.reattach.bind(executor) } : {}),
    ...(executor.sweep ? { sweep: executor.sweep.bind(executor) } : {}),
  };
}
