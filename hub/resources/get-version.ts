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
 * passes parsing as its text). As Concourse's scheduler inputs (atc/db/job.go AlgorithmInputs): the
 * get's own version map comes first, then the resource's pin (its `version:`, else a pin set with
 * pin-resource), which a get of `every` or `latest` takes.
 */
export function getVersionChoice(
  resource: string,
  stepVersion: unknown,
  declared: Version | undefined,
  pinned: Version | undefined,
): VersionChoice {
  const stepPin = typeof stepVersion === 'object' && stepVersion !== null;
  if (stepPin)
    return hasVars(stepVersion)
      ? unfilled(`version of get "${resource}"`, stepVersion)
      : { kind: 'pinned', version: stepVersion as Version };
  const resourcePin = declared ?? pinned;
  if (resourcePin)
    return hasVars(resourcePin)
      ? unfilled(`version of resource "${resource}"`, resourcePin)
      : { kind: 'pinned', version: resourcePin };
  if (stepVersion === 'every') return { kind: 'every' };
  // Parsing lets through a string other than latest and every only as a whole-value var.
  if (stepVersion !== undefined && stepVersion !== 'latest')
    return unfilled(`version of get "${resource}"`, stepVersion);
  return { kind: 'latest' };
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
