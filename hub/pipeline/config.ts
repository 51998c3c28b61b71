// The typed pipeline config: what the parser produces from YAML and the compiler consumes. Field names
// follow the YAML (Concourse's), values are checked and converted (sizes to bytes, params to strings);
// defaults are not applied here but by the compiler. Plain data, like the plan.
//
// Vars: any field not used for names or structure may hold a whole-value `((var))` string instead of its
// type (see schema.ts `literal`); it is type-checked when the step runs.

import type { SourcePos } from './schema.js';

export type { SourcePos };

export interface ParsedPipeline {
  jobs: JobConfig[];
  resources: ResourceConfig[];
  resource_types: ResourceTypeConfig[];
  groups: GroupConfig[];
  var_sources: VarSourceConfig[];
  /** Concourse's prototypes (its RFC #37): declared as resource types are; `run:` steps name them. */
  prototypes?: ResourceTypeConfig[];
  display?: DisplayConfig;
}

export interface ResourceConfig {
  name: string;
  type: string;
  source?: Record<string, unknown>;
  /** A duration ("1m") or "never". */
  check_every?: string;
  check_timeout?: string;
  tags?: string[];
  public?: boolean;
  webhook_token?: string;
  /** A pinned version. */
  version?: Record<string, string>;
  icon?: string;
  old_name?: string;
  expose_build_created_by?: boolean;
  pos?: SourcePos;
}

export interface ResourceTypeConfig {
  name: string;
  type: string;
  source?: Record<string, unknown>;
  privileged?: boolean;
  params?: Record<string, unknown>;
  check_every?: string;
  tags?: string[];
  /** Merged under the `source` of every resource of this type. */
  defaults?: Record<string, unknown>;
  pos?: SourcePos;
}

export interface GroupConfig {
  name: string;
  /** Job names or glob patterns ("build-*"). */
  jobs: string[];
}

export interface VarSourceConfig {
  name: string;
  type: string;
  config: Record<string, unknown>;
}

export interface DisplayConfig {
  background_image?: string;
  background_filter?: string;
}

export interface BuildLogRetention {
  builds?: number;
  days?: number;
  minimum_succeeded_builds?: number;
}

/** Hooks shared by steps and jobs: each is a step run after the one it is attached to. */
export interface Hooks {
  on_success?: StepConfig;
  on_failure?: StepConfig;
  on_error?: StepConfig;
  on_abort?: StepConfig;
  ensure?: StepConfig;
}

export interface JobConfig extends Hooks {
  name: string;
  plan: StepConfig[];
  /** Where the job's map starts. */
  pos?: SourcePos;
  serial?: boolean;
  serial_groups?: string[];
  max_in_flight?: number;
  build_log_retention?: BuildLogRetention;
  build_logs_to_retain?: number;
  public?: boolean;
  disable_manual_trigger?: boolean;
  interruptible?: boolean;
  old_name?: string;
}

export interface AcrossVarConfig {
  var: string;
  /** A list, or a `((var))` that resolves to one at run time. */
  values: unknown[] | string;
  /** A number, "all", or a `((var))`. */
  max_in_flight?: number | string;
}

/** Step modifiers, valid on every step kind. */
export interface StepModifiers extends Hooks {
  tags?: string[];
  /** As written ("1h30m", or a `((var))`). */
  timeout?: string;
  attempts?: number;
  across?: AcrossVarConfig[];
  /** With `across`: stop starting combinations after one fails. */
  fail_fast?: boolean;
  /** Where the step's map starts. */
  pos?: SourcePos;
}

export type StepConfig =
  | TaskStepConfig
  | GetStepConfig
  | PutStepConfig
  | SetPipelineStepConfig
  | LoadVarStepConfig
  | RunStepConfig
  | InParallelStepConfig
  | DoStepConfig
  | TryStepConfig;

export type StepKind = StepConfig['kind'];

export interface ContainerLimitsConfig {
  /** CPU shares. */
  cpu?: number;
  /** Bytes ("1GB" in YAML becomes 1073741824). */
  memory?: number;
}

export interface TaskStepConfig extends StepModifiers {
  kind: 'task';
  /** `task: NAME`. */
  task: string;
  /** The inline `config:`; exactly one of config and file is given. */
  config?: TaskConfigSpec;
  /** `ARTIFACT/PATH` of a task config file. */
  file?: string;
  /** Overrides for the config's params, already strings. */
  params?: Record<string, string>;
  privileged?: boolean;
  image?: string;
  input_mapping?: Record<string, string>;
  output_mapping?: Record<string, string>;
  vars?: Record<string, unknown>;
  container_limits?: ContainerLimitsConfig;
  hermetic?: boolean;
}

export interface GetStepConfig extends StepModifiers {
  kind: 'get';
  /** `get: NAME`: the artifact name, and the resource unless `resource:` is given. */
  get: string;
  resource?: string;
  version?: 'latest' | 'every' | Record<string, string>;
  passed?: string[];
  params?: Record<string, unknown>;
  trigger?: boolean;
}

export interface PutStepConfig extends StepModifiers {
  kind: 'put';
  put: string;
  resource?: string;
  inputs?: 'all' | 'detect' | string[];
  params?: Record<string, unknown>;
  get_params?: Record<string, unknown>;
  no_get?: boolean;
}

export interface SetPipelineStepConfig extends StepModifiers {
  kind: 'set_pipeline';
  /** The pipeline name, or "self". */
  set_pipeline: string;
  file: string;
  vars?: Record<string, unknown>;
  var_files?: string[];
  team?: string;
  instance_vars?: Record<string, unknown>;
}

export type LoadVarFormat = 'json' | 'yaml' | 'yml' | 'trim' | 'raw';

/** `run: MESSAGE` on a prototype (`type:`); as in Concourse, not carried out yet (see engine/run-step.ts). */
export interface RunStepConfig extends StepModifiers {
  kind: 'run';
  run: string;
  type: string;
  params?: Record<string, unknown>;
  privileged?: boolean;
}

export interface LoadVarStepConfig extends StepModifiers {
  kind: 'load_var';
  load_var: string;
  file: string;
  format?: LoadVarFormat;
  reveal?: boolean;
}

export interface InParallelConfig {
  steps: StepConfig[];
  limit?: number;
  fail_fast?: boolean;
}

export interface InParallelStepConfig extends StepModifiers {
  kind: 'in_parallel';
  /** The list form is read as `{steps: [...]}`. */
  in_parallel: InParallelConfig;
}

export interface DoStepConfig extends StepModifiers {
  kind: 'do';
  do: StepConfig[];
}

export interface TryStepConfig extends StepModifiers {
  kind: 'try';
  try: StepConfig;
}

/** A task config as written; the compiler turns it into plan.ts's TaskConfig by applying defaults. */
export interface TaskConfigSpec {
  platform: string;
  image_resource?: ImageResourceSpec;
  rootfs_uri?: string;
  inputs?: TaskInputSpec[];
  outputs?: TaskOutputSpec[];
  caches?: { path: string }[];
  params?: Record<string, string>;
  run: TaskRunSpec;
  container_limits?: ContainerLimitsConfig;
}

export interface ImageResourceSpec {
  type: string;
  source: Record<string, unknown>;
  params?: Record<string, unknown>;
  version?: Record<string, string>;
}

export interface TaskInputSpec {
  name: string;
  path?: string;
  optional?: boolean;
}

export interface TaskOutputSpec {
  name: string;
  path?: string;
}

export interface TaskRunSpec {
  path: string;
  args?: string[];
  dir?: string;
  user?: string;
}
