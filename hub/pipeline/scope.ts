// What steps may refer to across the pipeline (resources, jobs) and the cross-references found while
// decoding, checked once every job has been read: `passed` jobs and their cycles, group membership.

import type { Scalar } from 'yaml';

import { namesIn } from './names.js';
import { lookup, type Value, type Walk, type Where } from './schema.js';

export interface PassedRef {
  job: string;
  resource: string;
  passed: string;
  node: Scalar;
}

export interface PipelineScope {
  resources: Set<string>;
  resourceTypes: Set<string>;
  prototypes: Set<string>;
  /** Job names and where they are written. */
  jobs: Map<string, Scalar>;
  /** The job being decoded, for recording what it uses. */
  job: string | undefined;
  /** Job -> the resources its gets and puts use. */
  uses: Map<string, Set<string>>;
  passed: PassedRef[];
}

const SCOPES = new WeakMap<Walk, PipelineScope>();

/** Collects the declared names before decoding, so references may point forward in the file. */
export function openScope(root: Value, at: Where): PipelineScope {
  const section = (key: string): Scalar<string>[] => namesIn(lookup(root, key, at)?.value, at);
  const scope: PipelineScope = {
    resources: new Set(section('resources').map((n) => n.value)),
    resourceTypes: new Set(section('resource_types').map((n) => n.value)),
    prototypes: new Set(section('prototypes').map((n) => n.value)),
    jobs: new Map(section('jobs').map((n) => [n.value, n])),
    job: undefined,
    uses: new Map(),
    passed: [],
  };
  SCOPES.set(at.walk, scope);
  return scope;
}

/** The pipeline being decoded; undefined for a step decoded on its own. */
export function scopeOf(at: Where): PipelineScope | undefined {
  return SCOPES.get(at.walk);
}

/** Records that the current job gets or puts `resource`. */
export function recordUse(at: Where, resource: string): void {
  const scope = scopeOf(at);
  if (scope?.job === undefined) return;
  const uses = scope.uses.get(scope.job) ?? new Set();
  uses.add(resource);
  scope.uses.set(scope.job, uses);
}

/** Checks every `passed:`: the job exists and uses the resource, and no chain of them loops. */
export function checkPassed(scope: PipelineScope, at: Where): void {
  const edges = new Map<string, PassedRef[]>();
  for (const ref of scope.passed) {
    if (!scope.jobs.has(ref.passed)) {
      at.walk.error(ref.node, `passed: unknown job "${ref.passed}"`);
    } else if (!scope.uses.get(ref.passed)?.has(ref.resource)) {
      at.walk.error(ref.node, `passed: job "${ref.passed}" does not use resource "${ref.resource}"`);
    } else {
      edges.set(ref.job, [...(edges.get(ref.job) ?? []), ref]);
    }
  }
  // Depth-first search; an edge back to a job on the current path closes a cycle.
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (job: string): void => {
    path.push(job);
    for (const ref of edges.get(job) ?? []) {
      const at0 = path.indexOf(ref.passed);
      if (at0 >= 0) {
        const cycle = [...path.slice(at0), ref.passed].map((j) => `"${j}"`).join(' -> ');
        at.walk.error(ref.node, `passed: jobs form a cycle: ${cycle}`);
      } else if (!done.has(ref.passed)) {
        visit(ref.passed);
      }
    }
    path.pop();
    done.add(job);
  };
  for (const job of scope.jobs.keys()) if (!done.has(job)) visit(job);
}
