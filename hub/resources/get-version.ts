// Which versions a job's get may take, from its `version:` (latest, every or a pinned map), the
// resource's own `version:` and its pin. As in Concourse, vars in a get's version are filled in when the
// pipeline is set (-v/-y/-l, instance vars, a set_pipeline step's vars) and never when the job is
// scheduled: a var left in it has no value, and the get says so rather than silently taking the newest
// version (which is what Concourse does for a whole-value var) or waiting for a version that cannot be.

import type { Version } from '../store/store.js';
import { resolveVars } from '../pipeline/vars.js';

export type VersionChoice =
  | { kind: 'latest' }
  | { kind: 'every' }
  | { kind: 'pinned'; version: Version }
  | { kind: 'unusable'; problem: string };

/**
 * The choice for a get of `resource`. `stepVersion` is the get's `version:` as parsed (a whole-value var
 * passes parsing as its text). As in Concourse, a pinned resource takes its pin whatever the get asks
 * (every, or another version): the resource's `version:` comes first, then a pin set with pin-resource,
 * then the step's own.
 */
export function getVersionChoice(
  resource: string,
  stepVersion: unknown,
  declared: Version | undefined,
  pinned: Version | undefined,
): VersionChoice {
  const resourcePin = declared ?? pinned;
  if (resourcePin)
    return hasVars(resourcePin)
      ? unfilled(`version of resource "${resource}"`, resourcePin)
      : { kind: 'pinned', version: resourcePin };
  if (stepVersion === 'every') return { kind: 'every' };
  const stepPin = typeof stepVersion === 'object' && stepVersion !== null;
  // Parsing lets through a string other than latest and every only as a whole-value var.
  const unset =
    (stepVersion !== undefined && stepVersion !== 'latest' && !stepPin) || (stepPin && hasVars(stepVersion));
  if (unset) return unfilled(`version of get "${resource}"`, stepVersion);
  return stepPin ? { kind: 'pinned', version: stepVersion as Version } : { kind: 'latest' };
}

function missingVars(value: unknown): string[] {
  return resolveVars(value, () => undefined).missing;
}

function hasVars(value: unknown): boolean {
  return missingVars(value).length > 0;
}

function unfilled(owner: string, value: unknown): VersionChoice {
  return {
    kind: 'unusable',
    problem:
      `${owner} has undefined vars: ${missingVars(value).join(', ')} ` +
      `(give them when setting the pipeline: -v, -y, -l or -i; a get's version is not resolved when it runs)`,
  };
}
