// Archiving pipelines, as Concourse does: an archived pipeline is paused and listed only on request,
// until set-pipeline brings it back. A pipeline that a set_pipeline step set (a child) is archived with
// its parent, and when its parent job or that job's set_pipeline step is gone from the parent's config.

import { planSteps } from '../pipeline/plan-walk.js';
import type { Pipeline, Store } from '../store/store.js';

/** Archives the pipeline and, recursively, the pipelines its jobs set. */
export async function archivePipeline(store: Store, pipeline: Pipeline, at: number): Promise<void> {
  await store.pipelineLifecycle.archive(pipeline.id, at);
  await archiveChildren(store, pipeline.id, at);
}

/** Archives the pipelines the parent's jobs set (before the parent is destroyed, or with it). */
export async function archiveChildren(store: Store, parentId: number, at: number): Promise<void> {
  for (const child of await store.pipelineLifecycle.children(parentId))
    if (!child.pipeline.archived) await archivePipeline(store, child.pipeline, at);
}

/** Archives every child of the pipeline whose parent job no longer has a set_pipeline step for it. */
export async function archiveOrphanedChildren(store: Store, parentId: number, at: number): Promise<void> {
  for (const { pipeline, parentJobId } of await store.pipelineLifecycle.children(parentId)) {
    if (pipeline.archived) continue;
    const job = await store.getJobById(parentJobId);
    const stillSet =
      job?.active === true &&
      [...planSteps(job.plan)].some(
        // A templated name may still set it: only a step that cannot is taken as gone.
        (step) =>
          step.kind === 'set_pipeline' && (step.pipeline === pipeline.name || step.pipeline.includes('((')),
      );
    if (!stillSet) await archivePipeline(store, pipeline, at);
  }
}
