// Saving a pipeline config: validate, compile every job, store a new config version. Both the API's
// set-pipeline and the set_pipeline step go through here, so they accept exactly the same configs.

import { compileChecks, jobSchedule } from '../pipeline/checks.js';
import { archiveOrphanedChildren } from './archive-pipelines.js';
import { compileJob } from '../pipeline/compile.js';
import type { Diagnostic } from '../pipeline/diagnostics.js';
import { formatPipelineRef, type InstanceVars } from '../pipeline/instance-vars.js';
import { parsePipeline } from '../pipeline/parse.js';
import type { JobConfig } from '../pipeline/config.js';
import { CHECK_JOB_PREFIX, type BuildRetention, type Store } from '../store/store.js';

export const PIPELINE_NAME = /^[a-z0-9][a-z0-9._-]{0,127}$/;

export type SaveOutcome =
  | { ok: true; pipelineId: number; created: boolean; version: number; warnings: Diagnostic[] }
  | {
      ok: false;
      reason: 'invalid_name' | 'invalid_pipeline' | 'conflict';
      message: string;
      diagnostics: Diagnostic[];
    };

export interface SaveRequest {
  teamId: number;
  name: string;
  /** Non-empty: the instance (name, instanceVars) of the group `name` is saved. */
  instanceVars?: InstanceVars;
  source: string;
  /** The file diagnostics name. */
  file: string;
  /** Fail with `conflict` when the stored version differs. */
  expectedVersion?: number;
  /**
   * Whether a pipeline this creates starts paused: yes from the API (Concourse's rule, so a new pipeline
   * does nothing until someone unpauses it), no from a set_pipeline step.
   */
  createPaused: boolean;
  at: number;
}

/** Check builds keep only their latest few builds (their logs explain the current check status). */
const CHECK_BUILDS_KEPT = 5;

export async function savePipelineConfig(store: Store, req: SaveRequest): Promise<SaveOutcome> {
  if (!PIPELINE_NAME.test(req.name)) {
    return {
      ok: false,
      reason: 'invalid_name',
      message: `invalid pipeline name "${req.name}": use lowercase letters, digits, "-", "_" and "."`,
      diagnostics: [],
    };
  }
  const { pipeline, diagnostics } = parsePipeline(req.source, req.file);
  if (!pipeline)
    return { ok: false, reason: 'invalid_pipeline', message: 'the pipeline config is invalid', diagnostics };
  const current = await store.getPipeline(req.teamId, req.name, req.instanceVars);
  if (req.expectedVersion !== undefined && (current?.configVersion ?? 0) !== req.expectedVersion) {
    return {
      ok: false,
      reason: 'conflict',
      message: `pipeline "${formatPipelineRef(req)}" changed since you fetched it (version ${current?.configVersion ?? 0}, expected ${req.expectedVersion}); run set-pipeline again`,
      diagnostics: [],
    };
  }
  const saved = await store.savePipeline({
    teamId: req.teamId,
    name: req.name,
    ...(req.instanceVars ? { instanceVars: req.instanceVars } : {}),
    source: req.source,
    jobs: [
      ...pipeline.jobs.map((job) => ({
        name: job.name,
        plan: compileJob(pipeline, job),
        schedule: jobSchedule(job),
        ...(job.old_name === undefined ? {} : { oldName: job.old_name }),
        ...retentionOf(job),
      })),
      ...compileChecks(pipeline).map((check) => ({
        name: `${CHECK_JOB_PREFIX[check.scope]}${check.name}`,
        plan: check.plan,
        kind: 'check' as const,
        retention: { builds: CHECK_BUILDS_KEPT },
      })),
    ],
    createPaused: req.createPaused,
    at: req.at,
  });
  // A resource renamed with `old_name` keeps its versions, so its jobs run on (as a renamed job does).
  for (const resource of pipeline.resources)
    if (resource.old_name !== undefined && resource.old_name !== resource.name)
      await store.resources.renameResource(saved.pipeline.id, resource.old_name, resource.name);
  // Setting an archived pipeline brings it back (paused, as archiving left it).
  if (saved.pipeline.archived) await store.pipelineLifecycle.unarchive(saved.pipeline.id);
  await archiveOrphanedChildren(store, saved.pipeline.id, req.at);
  return {
    ok: true,
    pipelineId: saved.pipeline.id,
    created: saved.created,
    version: saved.pipeline.configVersion,
    warnings: diagnostics.filter((d) => d.severity === 'warning'),
  };
}

/** `build_log_retention`, or the older `build_logs_to_retain` (a number of builds). */
function retentionOf(job: JobConfig): { retention?: BuildRetention } {
  const r = job.build_log_retention;
  if (r) {
    return {
      retention: {
        ...(r.builds === undefined ? {} : { builds: r.builds }),
        ...(r.days === undefined ? {} : { days: r.days }),
        ...(r.minimum_succeeded_builds === undefined
          ? {}
          : { minimumSucceededBuilds: r.minimum_succeeded_builds }),
      },
    };
  }
  return job.build_logs_to_retain === undefined ? {} : { retention: { builds: job.build_logs_to_retain } };
}
