// `set_pipeline`: configures a pipeline (this one with `self`, or another of the team) from a file in an
// artifact, with `vars` and `var_files`, through the same validation as `outpost set-pipeline`.

import { parse as parseYaml } from 'yaml';
import type { ArtifactStore } from '../artifacts/store.js';
import { savePipelineConfig } from '../configs/save-pipeline.js';
import { formatDiagnostic } from '../pipeline/diagnostics.js';
import { interpolate } from '../pipeline/interpolate.js';
import type { SetPipelinePlan } from '../pipeline/plan.js';
import { undefinedVarsMessage } from '../pipeline/vars.js';
import type { BuildRun, LeafRunner, Result } from './build-run.js';
import { readArtifactFile, runOnHub } from './hub-step.js';
import type { Scope } from './scope.js';

export class SetPipelineStep implements LeafRunner<SetPipelinePlan> {
  constructor(private readonly artifacts: ArtifactStore) {}

  run(node: SetPipelinePlan, scope: Scope, build: BuildRun): Promise<Result> {
    const view = build.build;
    const target = node.pipeline === 'self' ? view.pipelineName : node.pipeline;
    return runOnHub(
      node,
      target,
      scope,
      build,
      async () => {
        const { store, now } = build.deps;
        const teamName = node.team ?? view.teamName;
        const team = await store.getTeam(teamName);
        if (!team) return { ok: false, error: `set_pipeline ${target}: team "${teamName}" does not exist` };
        if (team.name !== view.teamName && view.teamName !== 'main') {
          return {
            ok: false,
            error: `set_pipeline ${target}: only the main team may set pipelines of other teams`,
          };
        }
        // var_files first, then vars over them (Concourse's order).
        const vars: Record<string, unknown> = {};
        for (const file of node.varFiles) {
          const parsed = parseYaml(
            (await readArtifactFile(this.artifacts, scope, file)).toString('utf8'),
          ) as unknown;
          if (parsed && typeof parsed === 'object') Object.assign(vars, parsed);
        }
        const given = build.resolve(node.vars, scope);
        if (given.missing.length > 0) return { ok: false, error: undefinedVarsMessage(given.missing) };
        Object.assign(vars, given.value);
        const fileName = `${node.file.artifact}/${node.file.path}`;
        const source = (await readArtifactFile(this.artifacts, scope, node.file)).toString('utf8');
        const interpolated = interpolate(source, vars, fileName);
        if (interpolated.diagnostics.some((d) => d.severity === 'error')) {
          return { ok: false, error: interpolated.diagnostics.map(formatDiagnostic).join('\n') };
        }
        const saved = await savePipelineConfig(store, {
          teamId: team.id,
          name: target,
          source: interpolated.source,
          file: fileName,
          // Concourse unpauses what a set_pipeline step sets: the pipeline set it on purpose.
          createPaused: false,
          at: now(),
        });
        if (!saved.ok) {
          return { ok: false, error: [saved.message, ...saved.diagnostics.map(formatDiagnostic)].join('\n') };
        }
        // The child belongs to this job: it is archived when the step or the job goes (archive-pipelines.ts).
        if (saved.pipelineId !== view.pipelineId)
          await store.pipelineLifecycle.setParent(saved.pipelineId, view.jobId);
        return {
          ok: true,
          result: { pipeline: target, team: team.name, version: saved.version },
          log: `setting pipeline: ${target}\n${saved.created ? 'pipeline created' : `configuration updated (version ${saved.version})`}\ndone\n`,
        };
      },
      () => undefined,
    );
  }
}
