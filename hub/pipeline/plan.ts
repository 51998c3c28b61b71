// The compiled plan tree: what the engine runs. Every node has an id that is stable for a given job
// config (derived from its position), so build events and step runs can refer to it across restarts.
// Plans are stored as JSON with each build: keep them plain data.
//
// Vars: values may still hold `((var))` references that were not given at set-pipeline time. They stay
// in the plan as written and the engine resolves them when the step runs (Concourse's rule), so any
// field typed `Templated<T>` below may hold a string with a var reference instead of a T.
//
// Modifier precedence, outermost first (Concourse's): ensure, on_error, on_abort, on_failure,
// on_success, across, attempts (retry), timeout, then the core step.

export type Platform = 'linux' | 'windows' | 'darwin';

/** A value that may still be (or contain) `((var))` references, resolved at run time. */
export type Templated<T> = T | string;

export interface TaskRunConfig {
  path: string;
  args: string[];
  /** Relative to the step's working directory; empty means the working directory itself. */
  dir: string;
  user: string;
}

export interface TaskInputConfig {
  name: string;
  /** Defaults to the name. */
  path: string;
  optional: boolean;
}

export interface TaskOutputConfig {
  name: string;
  path: string;
}

export interface ImageResourceConfig {
  type: string;
  source: Record<string, unknown>;
  params: Record<string, unknown>;
  version: Record<string, string> | undefined;
}

export interface ContainerLimits {
  /** CPU shares. */
  cpu: number | undefined;
  /** Bytes. */
  memory: number | undefined;
}

/** A task config (inline `config:`, or read from `file:` at run time), with Concourse's defaults applied. */
export interface TaskConfig {
  platform: string;
  image_resource: ImageResourceConfig | undefined;
  rootfs_uri: string | undefined;
  inputs: TaskInputConfig[];
  outputs: TaskOutputConfig[];
  caches: { path: string }[];
  /** Environment for the process; for inline configs, step `params` are already merged over these. */
  params: Record<string, string>;
  run: TaskRunConfig;
  container_limits: ContainerLimits | undefined;
}

interface Node {
  id: string;
}

export interface TaskPlan extends Node {
  kind: 'task';
  /** The step's name (`task: NAME`). */
  name: string;
  /** Inline config; undefined when the config comes from `file`. */
  config: TaskConfig | undefined;
  /** `file: ARTIFACT/PATH`, read from the named artifact when the step runs. */
  file: { artifact: string; path: string } | undefined;
  /** `vars:` for a config read from a file (interpolated into it as `((name))`). */
  vars: Record<string, unknown>;
  /** Step `params`, applied over a file config's params at run time (already merged into an inline one). */
  params: Record<string, string>;
  /** task input name -> artifact name in the build. */
  inputMapping: Record<string, string>;
  /** task output name -> artifact name in the build. */
  outputMapping: Record<string, string>;
  /** `image:` an artifact used as the step's image (rootfs). */
  image: string | undefined;
  tags: string[];
  privileged: boolean;
  /** Step-level `container_limits`, overriding the config's. */
  containerLimits: ContainerLimits | undefined;
  /** From the step's `timeout:` when compiled without a timeout node; undefined when none. */
  timeoutMs: number | undefined;
}

export interface GetPlan extends Node {
  kind: 'get';
  /** The artifact name (`get: NAME`). */
  name: string;
  resource: string;
  /** The resource's type (a resource_types entry, or a core/built-in type). */
  type: string;
  source: Record<string, unknown>;
  params: Record<string, unknown>;
  /** 'latest' | 'every' | a pinned version. */
  version: 'latest' | 'every' | Record<string, string>;
  passed: string[];
  trigger: boolean;
  tags: string[];
  timeoutMs: number | undefined;
}

export interface PutPlan extends Node {
  kind: 'put';
  /** The artifact name of the implicit get (`put: NAME`). */
  name: string;
  resource: string;
  type: string;
  source: Record<string, unknown>;
  params: Record<string, unknown>;
  /** 'all' | 'detect' | a list of artifact names. */
  inputs: 'all' | 'detect' | string[];
  /** The implicit get after the put; undefined with `no_get: true`. */
  get: { id: string; params: Record<string, unknown> } | undefined;
  tags: string[];
  timeoutMs: number | undefined;
}

/**
 * A check of a resource or resource type: the plan of a check build. A resource of a custom type is
 * checked after the type it runs on (`typeCheck`, recursively), so its check can use the type's version.
 */
export interface CheckPlan extends Node {
  kind: 'check';
  scope: 'resource' | 'type';
  /** The check of the custom type this one runs on; undefined for a base type. */
  typeCheck?: CheckPlan;
  /** The resource's or type's name. */
  name: string;
  type: string;
  source: Record<string, unknown>;
  tags: string[];
  /** `check_timeout` (default 1h). */
  timeoutMs: number;
}

export interface SetPipelinePlan extends Node {
  kind: 'set_pipeline';
  /** Target pipeline name; "self" means the pipeline this build belongs to. */
  pipeline: string;
  /** `ARTIFACT/PATH` of the config file. */
  file: { artifact: string; path: string };
  vars: Record<string, unknown>;
  varFiles: { artifact: string; path: string }[];
  team: string | undefined;
  instanceVars: Record<string, unknown> | undefined;
}

/** `run: MESSAGE` on a prototype: as in Concourse, not carried out yet (engine/run-step.ts). */
export interface RunPlan extends Node {
  kind: 'run';
  /** The message: the step's name. */
  name: string;
  prototype: string;
  params: Record<string, unknown>;
}

export interface LoadVarPlan extends Node {
  kind: 'load_var';
  /** The local var name: `((.:NAME))`. */
  name: string;
  file: { artifact: string; path: string };
  /** Undefined: by the file's extension (.json, .yml/.yaml, else raw). */
  format: 'json' | 'yaml' | 'yml' | 'trim' | 'raw' | undefined;
  reveal: boolean;
}

/**
 * An archive the user uploaded (`outpost execute -i`), or that an earlier build fetched (`-j`), bound as
 * the build artifact `name`: Concourse's ArtifactInput. Only one-off builds have it; nothing runs.
 */
export interface ArtifactInputPlan extends Node {
  kind: 'artifact_input';
  name: string;
  digest: string;
  size: number;
}

export interface DoPlan extends Node {
  kind: 'do';
  steps: PlanNode[];
}

export interface InParallelPlan extends Node {
  kind: 'in_parallel';
  steps: PlanNode[];
  /** 0 = no limit. */
  limit: number;
  failFast: boolean;
}

export interface TryPlan extends Node {
  kind: 'try';
  step: PlanNode;
}

export interface TimeoutPlan extends Node {
  kind: 'timeout';
  step: PlanNode;
  /** A duration string, possibly templated ("1h", "((t))"). */
  duration: string;
}

/** `attempts: N`: the attempts are compiled up front, each with its own ids (".../attempt/2"). */
export interface RetryPlan extends Node {
  kind: 'retry';
  attempts: PlanNode[];
}

export interface AcrossVar {
  var: string;
  /** A list of values, or a templated string that resolves to one at run time. */
  values: Templated<unknown[]>;
  /** 0 = one at a time (Concourse's default); "all" runs every combination at once. */
  maxInFlight: Templated<number | 'all'>;
}

/**
 * `across:` the step runs once per combination of the vars' values. Combinations are only known at
 * run time, so the template step's ids get a suffix per combination (".../across/0/1").
 */
export interface AcrossPlan extends Node {
  kind: 'across';
  vars: AcrossVar[];
  failFast: boolean;
  step: PlanNode;
}

export type HookKind = 'on_success' | 'on_failure' | 'on_error' | 'on_abort' | 'ensure';

export interface HookPlan extends Node {
  kind: HookKind;
  step: PlanNode;
  hook: PlanNode;
}

export type PlanNode =
  | TaskPlan
  | GetPlan
  | PutPlan
  | CheckPlan
  | SetPipelinePlan
  | LoadVarPlan
  | RunPlan
  | ArtifactInputPlan
  | DoPlan
  | InParallelPlan
  | TryPlan
  | TimeoutPlan
  | RetryPlan
  | AcrossPlan
  | HookPlan;
