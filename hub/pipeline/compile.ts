// Typed job config -> plan tree (plan.ts), applying Concourse's defaults. Pure.
//
// Node ids are paths, joined with "/", so they are unique within a job and stable while the config is
// unchanged. The job's plan is "plan" and its steps "plan/0", "plan/1", ... A step at id P nests its
// modifiers outermost first (Concourse's precedence): each wrapper takes the id it is given and hands its
// child a longer one:
//   hooks (ensure, on_error, on_abort, on_failure, on_success): HookPlan X, step X/step, hook P/<hook>
//   across: AcrossPlan X, template X/across     attempts: RetryPlan X, attempts X/attempt/1..N
//   timeout: TimeoutPlan X, step X/timeout       (a static timeout on a task/get/put is its timeoutMs)
// Children of the core step extend its id: X/do/0, X/in_parallel/0, X/try; a put's implicit get is
// X/get. Job hooks wrap the whole plan the same way from the id "job" (hooks "ensure", "on_failure", ...).

import type {
  Hooks,
  JobConfig,
  ParsedPipeline,
  StepConfig,
  TaskConfigSpec,
  TaskStepConfig,
} from './config.js';
import { parseDuration } from '../../common/duration.js';
import type { HookKind, PlanNode, TaskConfig, TaskPlan } from './plan.js';
import { wholeVar } from './vars.js';

const HOOK_ORDER: readonly HookKind[] = ['ensure', 'on_error', 'on_abort', 'on_failure', 'on_success'];

export function compileJob(pipeline: ParsedPipeline, job: JobConfig): PlanNode {
  const compiler = new JobCompiler(pipeline);
  return compiler.hooks(job, '', 'job', () => ({
    id: 'plan',
    kind: 'do',
    steps: job.plan.map((step, i) => compiler.step(step, `plan/${i}`)),
  }));
}

/** `ARTIFACT/PATH` split at the first slash; without one, an empty path (the step errors when it runs). */
function artifactFile(file: string): { artifact: string; path: string } {
  const slash = file.indexOf('/');
  return slash < 0
    ? { artifact: file, path: '' }
    : { artifact: file.slice(0, slash), path: file.slice(slash + 1) };
}

/** A static timeout in ms, or undefined for one that is a var (left to a TimeoutPlan). */
function staticTimeout(duration: string): number | undefined {
  const parsed = wholeVar(duration) ? undefined : parseDuration(duration);
  return parsed?.ok ? Math.ceil(parsed.ms) : undefined;
}

class JobCompiler {
  constructor(private readonly pipeline: ParsedPipeline) {}

  step(step: StepConfig, id: string): PlanNode {
    return this.hooks(step, `${id}/`, id, (inner) => this.across(step, inner));
  }

  /** Wraps `inner` in a HookPlan per hook, outermost first; hook steps get `${base}<hook>` ids. */
  hooks(hooks: Hooks, base: string, id: string, inner: (id: string) => PlanNode): PlanNode {
    const kinds = HOOK_ORDER.filter((k) => hooks[k] !== undefined);
    const wrap = (i: number, at: string): PlanNode => {
      const kind = kinds[i];
      const hook = kind && hooks[kind];
      if (!kind || !hook) return inner(at);
      return { id: at, kind, step: wrap(i + 1, `${at}/step`), hook: this.step(hook, `${base}${kind}`) };
    };
    return wrap(0, id);
  }

  private across(step: StepConfig, id: string): PlanNode {
    if (!step.across) return this.attempts(step, id);
    return {
      id,
      kind: 'across',
      vars: step.across.map((v) => ({ var: v.var, values: v.values, maxInFlight: v.max_in_flight ?? 0 })),
      failFast: step.fail_fast ?? false,
      step: this.attempts(step, `${id}/across`),
    };
  }

  private attempts(step: StepConfig, id: string): PlanNode {
    const n = step.attempts;
    if (n === undefined) return this.timeout(step, id);
    return {
      id,
      kind: 'retry',
      attempts: Array.from({ length: n }, (_, i) => this.timeout(step, `${id}/attempt/${i + 1}`)),
    };
  }

  private timeout(step: StepConfig, id: string): PlanNode {
    const duration = step.timeout;
    if (duration === undefined) return this.core(step, id, undefined);
    const ms = staticTimeout(duration);
    const leaf = step.kind === 'task' || step.kind === 'get' || step.kind === 'put';
    if (leaf && ms !== undefined) return this.core(step, id, ms);
    return { id, kind: 'timeout', duration, step: this.core(step, `${id}/timeout`, undefined) };
  }

  private core(step: StepConfig, id: string, timeoutMs: number | undefined): PlanNode {
    const tags = step.tags ?? [];
    switch (step.kind) {
      case 'task':
        return compileTask(step, id, timeoutMs);
      case 'get': {
        const resource = step.resource ?? step.get;
        return {
          id,
          kind: 'get',
          name: step.get,
          resource,
          ...this.resource(resource),
          params: step.params ?? {},
          version: step.version ?? 'latest',
          passed: step.passed ?? [],
          trigger: step.trigger ?? false,
          tags,
          timeoutMs,
        };
      }
      case 'put': {
        const resource = step.resource ?? step.put;
        return {
          id,
          kind: 'put',
          name: step.put,
          resource,
          ...this.resource(resource),
          params: step.params ?? {},
          // Concourse's default (atc/exec/put_step.go): the artifacts its params mention.
          inputs: step.inputs ?? 'detect',
          get: step.no_get ? undefined : { id: `${id}/get`, params: step.get_params ?? {} },
          tags,
          timeoutMs,
        };
      }
      case 'set_pipeline':
        return {
          id,
          kind: 'set_pipeline',
          pipeline: step.set_pipeline,
          file: artifactFile(step.file),
          vars: step.vars ?? {},
          varFiles: (step.var_files ?? []).map(artifactFile),
          team: step.team,
          instanceVars: step.instance_vars,
        };
      case 'load_var':
        return {
          id,
          kind: 'load_var',
          name: step.load_var,
          file: artifactFile(step.file),
          format: step.format,
          reveal: step.reveal ?? false,
        };
      case 'run':
        return { id, kind: 'run', name: step.run, prototype: step.type, params: step.params ?? {} };
      case 'in_parallel':
        return {
          id,
          kind: 'in_parallel',
          steps: step.in_parallel.steps.map((s, i) => this.step(s, `${id}/in_parallel/${i}`)),
          limit: step.in_parallel.limit ?? 0,
          failFast: step.in_parallel.fail_fast ?? false,
        };
      case 'do':
        return { id, kind: 'do', steps: step.do.map((s, i) => this.step(s, `${id}/do/${i}`)) };
      case 'try':
        return { id, kind: 'try', step: this.step(step.try, `${id}/try`) };
    }
  }

  /** A resource's type and source, with its resource type's `defaults` under the source. */
  private resource(name: string): { type: string; source: Record<string, unknown> } {
    const resource = this.pipeline.resources.find((r) => r.name === name);
    if (!resource) throw new Error(`compileJob: unknown resource "${name}" (the pipeline was not validated)`);
    const type = this.pipeline.resource_types.find((t) => t.name === resource.type);
    return { type: resource.type, source: { ...type?.defaults, ...resource.source } };
  }
}

function compileTask(step: TaskStepConfig, id: string, timeoutMs: number | undefined): TaskPlan {
  const limits = step.container_limits;
  return {
    id,
    kind: 'task',
    name: step.task,
    config: step.config && compileTaskConfig(step.config, step.params),
    file: step.file === undefined ? undefined : artifactFile(step.file),
    vars: step.vars ?? {},
    params: step.params ?? {},
    inputMapping: step.input_mapping ?? {},
    outputMapping: step.output_mapping ?? {},
    image: step.image,
    tags: step.tags ?? [],
    privileged: step.privileged ?? false,
    containerLimits: limits && { cpu: limits.cpu, memory: limits.memory },
    timeoutMs,
  };
}

/** A task config with Concourse's defaults, step params over its own (also for `file:` configs at run time). */
export function compileTaskConfig(
  spec: TaskConfigSpec,
  stepParams: Record<string, string> | undefined,
): TaskConfig {
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
