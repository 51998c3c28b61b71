// The typed pipeline config: what the parser produces from YAML and the compiler consumes. Field names
// follow the YAML (Concourse's), values are checked and converted (durations to ms, sizes to bytes, params
// to strings); defaults are not applied here but by the compiler. Plain data, like the plan.

import type { SourcePos } from './schema.js';

export type { SourcePos };

export interface ParsedPipeline {
  jobs: JobConfig[];
}

/** A hook or other step that is accepted but not compiled yet: the YAML value as plain JS. */
export type RawStep = Record<string, unknown>;

export interface BuildLogRetention {
  builds?: number;
  days?: number;
  minimum_succeeded_builds?: number;
}

export interface JobConfig {
  name: string;
  plan: StepConfig[];
  /** Where the job's map starts, for later cross-reference checks. */
  pos?: SourcePos;
  // Accepted and checked, not used yet.
  serial?: boolean;
  serial_groups?: string[];
  max_in_flight?: number;
  build_log_retention?: BuildLogRetention;
  build_logs_to_retain?: number;
  public?: boolean;
  disable_manual_trigger?: boolean;
  interruptible?: boolean;
  old_name?: string;
  on_success?: RawStep;
  on_failure?: RawStep;
  on_error?: RawStep;
  on_abort?: RawStep;
  ensure?: RawStep;
}

/** One step of a plan; grows into a union as step kinds are supported (discriminated by `kind`). */
export type StepConfig = TaskStepConfig;

export interface ContainerLimitsConfig {
  /** CPU shares. */
  cpu?: number;
  /** Bytes ("1GB" in YAML becomes 1073741824). */
  memory?: number;
}

export interface TaskStepConfig {
  kind: 'task';
  /** `task: NAME`. */
  task: string;
  /** The inline `config:`; required until `file:` is supported. */
  config: TaskConfigSpec;
  /** Overrides for the config's params, already strings. */
  params?: Record<string, string>;
  tags?: string[];
  privileged?: boolean;
  /** From `timeout:`, in whole milliseconds. */
  timeoutMs?: number;
  /** Where the step's map starts. */
  pos?: SourcePos;
  // Accepted and checked, not compiled yet.
  image?: string;
  input_mapping?: Record<string, string>;
  output_mapping?: Record<string, string>;
  vars?: Record<string, unknown>;
  attempts?: number;
  container_limits?: ContainerLimitsConfig;
  hermetic?: boolean;
  on_success?: RawStep;
  on_failure?: RawStep;
  on_error?: RawStep;
  on_abort?: RawStep;
  ensure?: RawStep;
  across?: unknown[];
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
