// The parsed config of each pipeline's current version, parsed once per version. The engine (var
// sources, resource types), the checker and the scheduler read pipelines through it.

import type { ParsedPipeline } from '../pipeline/config.js';
import { parsePipeline } from '../pipeline/parse.js';
import type { Pipeline, Store } from '../store/store.js';

const EMPTY: ParsedPipeline = { jobs: [], resources: [], resource_types: [], groups: [], var_sources: [] };

export class PipelineConfigs {
  private readonly parsed = new Map<number, { version: number; pipeline: ParsedPipeline }>();

  constructor(private readonly store: Store) {}

  /**
   * The current config; an empty one when the pipeline is gone (its builds still finish). `read`: the
   * pipeline as its caller just read it, to spare a second read of it (a build the scheduler starts).
   */
  async get(pipelineId: number, read?: Pipeline): Promise<ParsedPipeline> {
    const pipeline = read ?? (await this.store.getPipelineById(pipelineId));
    if (!pipeline) return EMPTY;
    const cached = this.parsed.get(pipelineId);
    if (cached?.version === pipeline.configVersion) return cached.pipeline;
    const config = await this.store.getPipelineConfig(pipelineId, pipeline.configVersion);
    // Stored configs were valid when saved, so parsing them again succeeds.
    const parsed = (config && parsePipeline(config.source, 'pipeline.yml').pipeline) ?? EMPTY;
    this.parsed.set(pipelineId, { version: pipeline.configVersion, pipeline: parsed });
    return parsed;
  }
}
