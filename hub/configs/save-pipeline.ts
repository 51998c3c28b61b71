// Saving a pipeline config: validate, compile every job, store a new config version. Both the API's
// set-pipeline and the set_pipeline step go through here, so they accept exactly the same configs.

import { compileJob } from '../pipeline/compile.js';
import type { Diagnostic } from '../pipeline/diagnostics.js';
import { parsePipeline } from '../pipeline/parse.js';
import type { Store } from '../store/store.js';

export const PIPELINE_NAME = /^[a-z0-9][a-z0-9._-]{0,127}$/;

export type SaveOutcome =
  | { ok: true; created: boolean; version: number; warnings: Diagnostic[] }
  | {
      ok: false;
      reason: 'invalid_name' | 'invalid_pipeline' | 'conflict';
      message: string;
      diagnostics: Diagnostic[];
    };

export interface SaveRequest {
  teamId: number;
  name: string;
  source: string;
  /** The file diagnostics name. */
  file: string;
  /** Fail with `conflict` when the stored version differs. */
  expectedVersion?: number;
  at: number;
}

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
  const current = await store.getPipeline(req.teamId, req.name);
  if (req.expectedVersion !== undefined && (current?.configVersion ?? 0) !== req.expectedVersion) {
    return {
      ok: false,
      reason: 'conflict',
      message: `pipeline "${req.name}" changed since you fetched it (version ${current?.configVersion ?? 0}, expected ${req.expectedVersion}); run set-pipeline again`,
      diagnostics: [],
    };
  }
  const saved = await store.savePipeline({
    teamId: req.teamId,
    name: req.name,
    source: req.source,
    jobs: pipeline.jobs.map((job) => ({
      name: job.name,
      plan: compileJob(pipeline, job),
      ...(job.old_name === undefined ? {} : { oldName: job.old_name }),
    })),
    at: req.at,
  });
  return {
    ok: true,
    created: saved.created,
    version: saved.pipeline.configVersion,
    warnings: diagnostics.filter((d) => d.severity === 'warning'),
  };
}
