// The plan of a one-off build (`outpost execute`), as Concourse's fly builds it: each input bound from
// an archive (uploaded, or fetched by the `-j` job's latest build), then the task. Pure.

import type { ArtifactInputPlan, PlanNode, TaskConfig, TaskPlan } from '../pipeline/plan.js';

export interface BoundInput {
  /** The task input it provides. */
  name: string;
  digest: string;
  size: number;
}

export interface OneOffRequest {
  config: TaskConfig;
  /** Uploaded archives by task input name. */
  uploaded: BoundInput[];
  /** Artifacts of the `-j` job's latest build by their name in that job (`get: NAME`). */
  fromJob: BoundInput[];
  /** task input name -> the `-j` job's input name (`-m`). */
  inputMappings: Record<string, string>;
  /** The `-j` job's input used as the task's image (`--image`). */
  image: BoundInput | undefined;
  privileged: boolean;
  tags: string[];
  /** Appended to the task's `run.args` (fly's `-- ARGS`). */
  args: string[];
}

/** The build artifact an `--image` is bound as: not an identifier, so no task input can take it. */
export const IMAGE_ARTIFACT = ':image';

/** The plan, or every problem with the request (unknown and missing inputs), in words. */
export function oneOffPlan(req: OneOffRequest): { plan: PlanNode } | { errors: string[] } {
  const declared = new Set(req.config.inputs.map((i) => i.name));
  const errors = req.uploaded.filter((u) => !declared.has(u.name)).map((u) => `unknown input \`${u.name}\``);
  for (const task of Object.keys(req.inputMappings))
    if (!declared.has(task)) errors.push(`input mapping names unknown input \`${task}\``);
  const inputs: ArtifactInputPlan[] = [];
  for (const input of req.config.inputs) {
    const bound =
      req.uploaded.find((u) => u.name === input.name) ??
      req.fromJob.find((j) => j.name === (req.inputMappings[input.name] ?? input.name));
    if (bound) inputs.push(artifactInput(input.name, bound));
    else if (!input.optional) errors.push(`missing required input \`${input.name}\``);
  }
  if (errors.length > 0) return { errors };
  if (req.image) inputs.push(artifactInput(IMAGE_ARTIFACT, req.image));
  const task: TaskPlan = {
    id: 'one-off/task',
    kind: 'task',
    name: 'one-off',
    config: { ...req.config, run: { ...req.config.run, args: [...req.config.run.args, ...req.args] } },
    file: undefined,
    vars: {},
    params: {},
    inputMapping: {},
    outputMapping: {},
    image: req.image ? IMAGE_ARTIFACT : undefined,
    tags: req.tags,
    privileged: req.privileged,
    containerLimits: undefined,
    timeoutMs: undefined,
  };
  return { plan: { id: 'one-off', kind: 'do', steps: [...inputs, task] } };
}

function artifactInput(name: string, bound: BoundInput): ArtifactInputPlan {
  return {
    id: `one-off/input/${name}`,
    kind: 'artifact_input',
    name,
    digest: bound.digest,
    size: bound.size,
  };
}
