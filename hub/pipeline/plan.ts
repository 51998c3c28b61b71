// The compiled plan tree: what the engine runs. Every node has an id that is stable for a given job
// config (derived from its position), so build events and step runs can refer to it across restarts.
// Plans are stored as JSON with each build: keep them plain data.

export type Platform = 'linux' | 'windows' | 'darwin';

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

/** A task config (inline `config:`), with Concourse's defaults applied. */
export interface TaskConfig {
  platform: string;
  image_resource: ImageResourceConfig | undefined;
  inputs: TaskInputConfig[];
  outputs: TaskOutputConfig[];
  caches: { path: string }[];
  /** Environment for the process; step `params` are already merged over the config's. */
  params: Record<string, string>;
  run: TaskRunConfig;
  container_limits: ContainerLimits | undefined;
}

export interface TaskPlan {
  id: string;
  kind: 'task';
  /** The step's name (`task: NAME`). */
  name: string;
  config: TaskConfig;
  tags: string[];
  privileged: boolean;
  /** From the step's `timeout:`; undefined when none. */
  timeoutMs: number | undefined;
}

export interface DoPlan {
  id: string;
  kind: 'do';
  steps: PlanNode[];
}

export type PlanNode = TaskPlan | DoPlan;
