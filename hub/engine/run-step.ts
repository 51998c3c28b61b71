// `run: MESSAGE` on a prototype (`type:`), Concourse's RFC #37 step. Concourse parses it but does not
// carry it out yet: its run step (atc/exec/run_step.go) logs that it pretends to run the message and
// succeeds. Outpost does the same, on the hub, so pipelines written for it set and run here too.

import type { RunPlan } from '../pipeline/plan.js';
import type { BuildRun, LeafRunner, Result } from './build-run.js';
import { runOnHub } from './hub-step.js';
import type { Scope } from './scope.js';

export class RunStep implements LeafRunner<RunPlan> {
  run(node: RunPlan, scope: Scope, build: BuildRun): Promise<Result> {
    return runOnHub(
      node,
      node.name,
      scope,
      build,
      () =>
        Promise.resolve({
          ok: true,
          result: null,
          log: `the run step is not yet implemented (as in Concourse)\npretending to run ${node.name} on prototype ${node.prototype}...\n`,
        }),
      () => undefined,
    );
  }
}
