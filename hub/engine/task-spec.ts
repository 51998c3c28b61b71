// Turns a compiled task plan into the spec an agent runs.

import type { StepSpec } from '../dispatch/types.js';
import type { TaskConfig, TaskPlan } from '../pipeline/plan.js';

export function taskStepSpec(node: TaskPlan, config: TaskConfig, team: string): StepSpec {
  return {
    platform: config.platform,
    tags: node.tags,
    team,
    run: { ...config.run, args: [...config.run.args] },
    env: { ...config.params },
    inputs: config.inputs.map((i) => ({ ...i })),
    outputs: config.outputs.map((o) => ({ ...o })),
    privileged: node.privileged,
    timeoutMs: node.timeoutMs ?? 0,
    memoryLimitBytes: config.container_limits?.memory ?? 0,
    cpuShares: config.container_limits?.cpu ?? 0,
  };
}
