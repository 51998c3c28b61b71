// What a built-in resource type (git, mock, time) sees: the same request, directory, environment and log a
// resource image would, as plain values. It returns the response object; throwing ResourceFailure is
// the equivalent of printing the message on stderr and exiting 1 (the step fails).

import { resolveInside, StepPathError } from '../artifacts/step-dirs.js';
import type { ResourceKind } from './protocol.js';

export interface BuiltinContext {
  kind: ResourceKind;
  /** The request, exactly as a resource image would read it on stdin. */
  requestJson: string;
  /** get: the destination; put: the working directory holding the inputs; check: an empty directory. */
  dir: string;
  /** The step's environment (MIRRORED_VERSION, BUILD_* ...), not the agent's. */
  env: Readonly<Record<string, string>>;
  privileged: boolean;
  /** One line on the step's stderr. */
  log(line: string): void;
  /** Aborted when the step is aborted or times out. */
  signal: AbortSignal;
  now(): Date;
}

export type BuiltinResource = (ctx: BuiltinContext) => Promise<unknown>;

/** The resource's own failure (a bad payload, check_failure...): the step fails with this message. */
export class ResourceFailure extends Error {
  override readonly name = 'ResourceFailure';
}

/** Resolves after `ms`, or rejects as soon as `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Error('aborted'));
    const onAbort = () => {
      clearTimeout(timer);
      reject(new Error('aborted'));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** `rel` (a path from params) inside the step's `dir`; one that leaves it fails the step, naming `label`. */
export function inside(dir: string, rel: string, label: string): string {
  try {
    return resolveInside(dir, rel, `${label} ${JSON.stringify(rel)}`);
  } catch (err) {
    if (err instanceof StepPathError) throw new ResourceFailure(err.message);
    throw err;
  }
}
