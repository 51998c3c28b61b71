// Turns a task plan and its resolved config into the spec an agent runs.

import type { StepSpec } from '../dispatch/types.js';
import type { TaskConfig, TaskPlan } from '../pipeline/plan.js';
import { REGISTRY_TYPES } from './image-ref.js';

/** `digests` binds input names to build artifacts (absent: an optional input not provided). */
export function taskStepSpec(
  node: TaskPlan,
  config: TaskConfig,
  team: string,
  digests: Record<string, string>,
): StepSpec {
  const limits = node.containerLimits ?? config.container_limits;
  return {
    platform: config.platform,
    tags: node.tags,
    team,
    run: { ...config.run, args: [...config.run.args] },
    env: { ...config.params },
    // An optional input nothing provided is left out: the step must not see even an empty directory.
    inputs: config.inputs
      .filter((i) => digests[i.name] !== undefined || !i.optional)
      .map((i) => ({ ...i, ...(digests[i.name] ? { artifactDigest: digests[i.name] } : {}) })),
    outputs: config.outputs.map((o) => ({ ...o })),
    privileged: node.privileged,
    timeoutMs: node.timeoutMs ?? 0,
    memoryLimitBytes: limits?.memory ?? 0,
    cpuShares: limits?.cpu ?? 0,
    redact: [],
    cachePaths: config.caches.map((c) => c.path),
    ...imageOf(config),
  };
}

/**
 * The container image of a registry-image / docker-image `image_resource`, with the source's credentials;
 * other types are fetched as artifacts (task-step.ts).
 */
function imageOf(config: TaskConfig): Pick<StepSpec, 'image'> {
  const resource = config.image_resource;
  if (!resource || !REGISTRY_TYPES.has(resource.type)) return {};
  const { repository, tag, username, password } = resource.source;
  if (typeof repository !== 'string') return {};
  const digest = resource.version?.digest ?? '';
  const credentials =
    typeof username === 'string' && typeof password === 'string' ? { username, password } : {};
  return { image: { repository, tag: typeof tag === 'string' ? tag : 'latest', digest, ...credentials } };
}
