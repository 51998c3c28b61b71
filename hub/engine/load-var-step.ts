// `load_var`: reads a file from an artifact into a local var, `((.:name))`, for the rest of the build.
// Its value is redacted in logs unless the step says `reveal: true`.

import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { ArtifactStore } from '../artifacts/store.js';
import type { LoadVarPlan } from '../pipeline/plan.js';
import { type BuildRun, type LeafRunner, type Result } from './build-run.js';
import { readArtifactFile, runOnHub } from './hub-step.js';
import type { Scope } from './scope.js';

interface LoadedVar {
  value: unknown;
  reveal: boolean;
}

export class LoadVarStep implements LeafRunner<LoadVarPlan> {
  constructor(private readonly artifacts: ArtifactStore) {}

  run(node: LoadVarPlan, scope: Scope, build: BuildRun): Promise<Result> {
    return runOnHub(
      node,
      node.name,
      scope,
      build,
      async () => {
        const text = (await readArtifactFile(this.artifacts, scope, node.file)).toString('utf8');
        const format = node.format ?? formatOf(node.file.path);
        let value: unknown;
        try {
          value = decode(text, format);
        } catch (err) {
          return {
            ok: false,
            error: `load_var ${node.name}: ${node.file.artifact}/${node.file.path} is not valid ${format}: ${(err as Error).message}`,
          };
        }
        return { ok: true, result: { value, reveal: node.reveal } satisfies LoadedVar };
      },
      (result) => {
        const loaded = result as LoadedVar;
        // Like Concourse, an unrevealed load_var masks what a step reads from it (BuildRun.resolve):
        // the strings it interpolates, while the elements of a loaded list stay visible to across.
        scope.localVars.set(node.name, { value: loaded.value, secret: !loaded.reveal });
      },
    );
  }
}

function formatOf(file: string): 'json' | 'yaml' | 'raw' {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.json') return 'json';
  if (ext === '.yml' || ext === '.yaml') return 'yaml';
  return 'raw';
}

function decode(text: string, format: NonNullable<LoadVarPlan['format']>): unknown {
  switch (format) {
    case 'json':
      return JSON.parse(text) as unknown;
    case 'yaml':
    case 'yml':
      return parseYaml(text) as unknown;
    case 'trim':
      return text.trim();
    case 'raw':
      return text;
  }
}
