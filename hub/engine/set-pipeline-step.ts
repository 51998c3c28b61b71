// `set_pipeline`: configures a pipeline (this one with `self`, or another of the team) from a file in an
// artifact, with `vars` and `var_files`, through the same validation as `outpost set-pipeline`.

import { parse as parseYaml } from 'yaml';
import type { ArtifactStore } from '../artifacts/store.js';
import { savePipelineConfig } from '../configs/save-pipeline.js';
import { formatDiagnostic } from '../pipeline/diagnostics.js';
import { formatPipelineRef, type InstanceVars, type PipelineRef } from '../pipeline/instance-vars.js';
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
    const self = node.pipeline === 'self';
    const named = self ? view.pipelineName : node.pipeline;
    return runOnHub(
      node,
      named,
      scope,
      build,
      async () => {
        const { store, now } = build.deps;
        const teamName = node.team ?? view.teamName;
        // `self` is this very pipeline, an instance with its instance vars.
        let instanceVars: InstanceVars | undefined = self ? view.pipelineInstanceVars : undefined;
        if (!self && node.instanceVars !== undefined) {
          const resolved = build.resolve(node.instanceVars, scope);
          if (resolved.missing.length > 0)
            return { ok: false, error: undefinedVarsMessage(resolved.missing) };
          instanceVars = resolved.value as InstanceVars;
        }
        const ref: PipelineRef = { name: named, ...(instanceVars ? { instanceVars } : {}) };
        const target = formatPipelineRef(ref);
        const team = await store.getTeam(teamName);
        if (!team) return { ok: false, error: `set_pipeline ${target}: team "${teamName}" does not exist` };
        if (team.name !== view.teamName && view.teamName !== 'main') {
          // Concourse's words, which scripts look for.
          return { ok: false, error: "only main team can set another team's pipeline" };
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
        // An instance's instance vars are vars of its config too (Concourse), over `vars`.
        Object.assign(vars, given.value, instanceVars);
        const fileName = `${node.file.artifact}/${node.file.path}`;
        const source = (await readArtifactFile(this.artifacts, scope, node.file)).toString('utf8');
        const interpolated = interpolate(source, vars, fileName);
        if (interpolated.diagnostics.some((d) => d.severity === 'error')) {
          return { ok: false, error: interpolated.diagnostics.map(formatDiagnostic).join('\n') };
        }
        const saved = await savePipelineConfig(store, {
          teamId: team.id,
          ...ref,
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
