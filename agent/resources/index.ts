// Which executor runs a resource step: built-in types (ResourceAction.builtin) run inside the agent on
// every pool that lists them; the others run from their image on the pool's own executor, which a
// pool of host processes cannot do.

import { ErroredStep } from '../executors/errored-step.js';
import type { ExecResource, Executor } from '../executors/executor.js';
import { ImageResourceExecutor, type ImageResourceOptions } from './image-executor.js';
export { resumeImageResource } from './image-executor.js';

export { BuiltinResourceExecutor, BUILTINS } from './builtin-executor.js';
export { execResourceFromWire } from './protocol.js';
export type { ImageResourceOptions } from './image-executor.js';

export interface ResourcePool {
  name: string;
  /** The pool's executor (process, kubernetes...). */
  executor: Executor;
  /** Runs the built-in types. */
  builtin: Executor;
  /** The built-in types this pool runs inside the agent; the others of them run from their image. */
  builtinTypes: readonly string[];
}

export function resourceExecutorFor(
  pool: ResourcePool,
  resource: ExecResource,
  image: ImageResourceOptions,
): Executor {
  if (resource.builtin && pool.builtinTypes.includes(resource.type)) return pool.builtin;
  if (resource.builtin && pool.executor.kind === 'process')
    return refusing(
      `pool "${pool.name}" does not run the built-in resource type "${resource.type}" (it runs ${pool.builtinTypes.join(', ')})`,
    );
  if (pool.executor.kind === 'process')
    return refusing(
      `resource type "${resource.type}" runs from an image; pool "${pool.name}" runs host processes, which run only the built-in types (${pool.builtinTypes.join(', ')})`,
    );
  // An image type, or a built-in type this pool runs from its image (the hub sends the image).
  return new ImageResourceExecutor(pool.executor, image);
}

/** An executor whose every step ends 'errored' with `reason` before anything runs. */
export function refusing(reason: string): Executor {
  return { kind: 'refused', start: (step) => Promise.resolve(new ErroredStep(step.leaseId, reason)) };
}
