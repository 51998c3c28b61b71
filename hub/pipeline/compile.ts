// Typed job config -> plan tree (plan.ts), applying Concourse's defaults. Pure.
//
// Node ids are the node's path within the job config, joined with "/": the job's plan is "plan", its
// steps "plan/0", "plan/1", ... Nested steps (later: do, in_parallel, try, hooks) will extend their
// parent's id with the YAML key and index that reach them, e.g. "plan/2/in_parallel/0" or
// "plan/1/on_failure". So ids are unique within a job and stable as long as the config is unchanged.

import type { JobConfig, StepConfig, TaskConfigSpec, TaskStepConfig } from './config.js';
import type { PlanNode, TaskConfig, TaskPlan } from './plan.js';

export function compileJob(job: JobConfig): PlanNode {
  const id = 'plan';
  return { id, kind: 'do', steps: job.plan.map((step, i) => compileStep(step, `${id}/${i}`)) };
}

// Becomes a switch on `step.kind` as StepConfig grows; until then the type checker flags this call.
function compileStep(step: StepConfig, id: string): PlanNode {
  return compileTask(step, id);
}

function compileTask(step: TaskStepConfig, id: string): TaskPlan {
  return {
    id,
    kind: 'task',
    name: step.task,
    config: taskConfig(step.config, step.params),
    file: undefined,
    vars: {},
    params: step.params ?? {},
    inputMapping: {},
    outputMapping: {},
    image: undefined,
    tags: step.tags ?? [],
    privileged: step.privileged ?? false,
    containerLimits: undefined,
    timeoutMs: step.timeoutMs,
  };
}

function taskConfig(spec: TaskConfigSpec, stepParams: Record<string, string> | undefined): TaskConfig {
  const image = spec.image_resource;
  const limits = spec.container_limits;
  return {
    platform: spec.platform,
    rootfs_uri: spec.rootfs_uri,
    image_resource: image && {
      type: image.type,
      source: image.source,
      params: image.params ?? {},
      version: image.version,
    },
    inputs: (spec.inputs ?? []).map((i) => ({
      name: i.name,
      path: i.path ?? i.name,
      optional: i.optional ?? false,
    })),
    outputs: (spec.outputs ?? []).map((o) => ({ name: o.name, path: o.path ?? o.name })),
    caches: (spec.caches ?? []).map((c) => ({ path: c.path })),
    // The step's params override the config's, as in Concourse.
    params: { ...spec.params, ...stepParams },
    run: {
      path: spec.run.path,
      args: spec.run.args ?? [],
      dir: spec.run.dir ?? '',
      user: spec.run.user ?? '',
    },
    container_limits: limits && { cpu: limits.cpu, memory: limits.memory },
  };
}
