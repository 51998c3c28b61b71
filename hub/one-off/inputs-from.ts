// `outpost execute -j PIPELINE/JOB`: the inputs of the job's latest build that fetched any, as the
// archives that build stored. No resource is fetched again, so the one-off build sees exactly the
// files the job's build saw.

import type { ArtifactStore } from '../artifacts/store.js';
import type { DispatchedResult, StoredDispatchSpec } from '../engine/dispatched-step.js';
import type { Job, Store } from '../store/store.js';
import type { BoundInput } from './plan.js';

/** How many of the job's newest builds are looked through for one that fetched its inputs. */
const LOOKBACK = 20;

export interface JobInputs {
  /** By the name the job gives them (`get: NAME`). */
  inputs: BoundInput[];
  /** The same archives by resource name (`--image` may name a resource as well as an input). */
  byResource: Map<string, BoundInput>;
}

export async function latestInputsOf(
  store: Store,
  artifacts: ArtifactStore,
  job: Job,
  label: string,
): Promise<JobInputs | string> {
  for (const build of await store.listBuilds({ jobId: job.id, limit: LOOKBACK })) {
    const gets = (await store.listStepRuns(build.id)).filter(
      (run) => run.status === 'succeeded' && (run.spec as StoredDispatchSpec).spec.resource?.kind === 'get',
    );
    if (gets.length === 0) continue;
    const inputs: BoundInput[] = [];
    for (const run of gets) {
      const output = (run.result as DispatchedResult | null)?.outputs.find((o) => o.name === run.name);
      if (!output) continue;
      if (!(await artifacts.has(output.digest)))
        return `the inputs of ${label} #${build.name} are no longer stored; run the job again`;
      inputs.push({ name: run.name, digest: output.digest, size: output.size });
    }
    const resources = await store.resources.listBuildResources(build.id);
    const byResource = new Map<string, BoundInput>();
    for (const r of resources) {
      const input = r.direction === 'input' ? inputs.find((i) => i.name === r.name) : undefined;
      if (input) byResource.set(r.resource, input);
    }
    for (const input of inputs) if (!byResource.has(input.name)) byResource.set(input.name, input);
    return { inputs, byResource };
  }
  return `${label} has no build that fetched its inputs yet`;
}
