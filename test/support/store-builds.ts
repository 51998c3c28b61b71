// A build with step runs, made through the store as the hub makes them, for tests of what is stored per
// build and step (logs, events, their streams).

import type { Build, StepRun, Store } from '../../hub/store/store.js';

/** A build of a new pipeline `pipelineName`'s one job, with a step run per plan id, in order. */
export async function buildWithSteps(
  store: Store,
  planIds: string[],
  pipelineName = 'p',
): Promise<{ build: Build; steps: StepRun[] }> {
  const team = await store.getTeam('main');
  if (!team) throw new Error('the store has no main team');
  const { pipeline } = await store.savePipeline({
    teamId: team.id,
    name: pipelineName,
    source: 'jobs: []',
    jobs: [{ name: 'a', plan: { id: 'a', kind: 'do', steps: [] } }],
    at: 1,
  });
  const job = await store.getJob(pipeline.id, 'a');
  if (!job) throw new Error(`pipeline ${pipelineName} has no job a`);
  const build = await store.createBuild({ jobId: job.id, plan: job.plan, at: 1 });
  const steps = [];
  for (const planId of planIds)
    steps.push(await store.createStepRun({ buildId: build.id, planId, name: planId, spec: null, at: 1 }));
  return { build, steps };
}
