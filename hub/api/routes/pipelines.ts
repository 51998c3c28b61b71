// Pipelines of a team: list them, read and save a config, pause and unpause, expose and hide, rename and
// destroy.

import { z } from 'zod';
import { archiveChildren } from '../../configs/archive-pipelines.js';
import { PIPELINE_NAME, savePipelineConfig } from '../../configs/save-pipeline.js';
import { roleIn } from '../../auth/caller.js';
import { formatPipelineRef, refOfKey } from '../../pipeline/instance-vars.js';
import type { ApiContext } from '../context.js';
import { HttpError, notFound } from '../errors.js';
import { name, pipelineParams } from '../fields.js';
import { route, type Route } from '../route.js';
import { pipelineSummary } from './pipeline-lifecycle.js';
import type { PipelineConfigResponse, PipelineSummary, SetPipelineResponse } from '../types.js';

const setPipelineBody = z.strictObject({
  source: z.string(),
  file: z.string().optional(),
  expectedVersion: z.number().int().optional(),
});

const renamePipelineBody = z.strictObject({
  name: z.string().regex(PIPELINE_NAME, 'a pipeline name is lowercase letters, digits, "-", "_" and "."'),
});

export function pipelineRoutes(ctx: ApiContext): Route[] {
  const { store, leader, maxPipelineBytes } = ctx.deps;
  const pauseRoutes = (['pause', 'unpause'] as const).map((action) =>
    route({
      method: 'PUT',
      url: `/teams/:team/pipelines/:pipeline/${action}`,
      action: `${action}-pipeline`,
      role: 'pipeline-operator',
      params: pipelineParams,
      handler: async ({ params }, req, reply) => {
        const pipeline = await ctx.pipelineOf(params.team, params.pipeline);
        if (action === 'unpause' && pipeline.archived)
          throw new HttpError(
            409,
            'archived',
            `pipeline "${pipeline.name}" is archived: set it again with set-pipeline to bring it back`,
          );
        await store.setPipelinePaused(pipeline.id, action === 'pause', Date.now());
        req.log.info({ pipeline: pipeline.name }, `pipeline ${action}d`);
        leader.schedule(pipeline.id);
        return reply.code(204).send();
      },
    }),
  );

  // Concourse's expose-pipeline and hide-pipeline: a member's decision, as in Concourse.
  const exposeRoutes = (['expose', 'hide'] as const).map((action) =>
    route({
      method: 'PUT',
      url: `/teams/:team/pipelines/:pipeline/${action}`,
      action: `${action}-pipeline`,
      role: 'member',
      params: pipelineParams,
      handler: async ({ params }, req, reply) => {
        const pipeline = await ctx.pipelineOf(params.team, params.pipeline);
        await store.setPipelinePublic(pipeline.id, action === 'expose', Date.now());
        req.log.info(
          { team: params.team, pipeline: pipeline.name },
          `pipeline ${action === 'expose' ? 'exposed' : 'hidden'}`,
        );
        return reply.code(204).send();
      },
    }),
  );

  return [
    route({
      method: 'GET',
      url: '/teams/:team/pipelines',
      exposed: (p) => ctx.teamExposes(p.team),
      role: 'viewer',
      params: z.object({ team: name }),
      handler: async ({ params }, req): Promise<PipelineSummary[]> => {
        const team = await ctx.teamOf(params.team);
        // Without a role in the team the caller got here through its exposed pipelines: only those.
        const member = req.caller !== undefined && roleIn(req.caller, team.name) !== undefined;
        return (await store.listPipelines(team.id))
          .filter((p) => member || p.public)
          .map((p) => pipelineSummary(p, team.name));
      },
    }),

    route({
      method: 'GET',
      url: '/teams/:team/pipelines/:pipeline/config',
      role: 'viewer',
      params: pipelineParams,
      handler: async ({ params }): Promise<PipelineConfigResponse> => {
        const pipeline = await ctx.pipelineOf(params.team, params.pipeline);
        // As Concourse: an archived pipeline has no config to show (setting it again brings it back).
        if (pipeline.archived) throw notFound(`config of pipeline "${pipeline.name}"`);
        const config = await store.getPipelineConfig(pipeline.id);
        if (!config) throw notFound(`config of pipeline "${pipeline.name}"`);
        return { source: config.source, version: config.version };
      },
    }),

    route({
      method: 'PUT',
      url: '/teams/:team/pipelines/:pipeline/config',
      action: 'set-pipeline',
      role: 'member',
      params: pipelineParams,
      body: setPipelineBody,
      handler: async ({ params, body }, req): Promise<SetPipelineResponse> => {
        const team = await ctx.teamOf(params.team);
        if (Buffer.byteLength(body.source) > maxPipelineBytes)
          throw new HttpError(413, 'too_large', `pipeline config exceeds ${maxPipelineBytes} bytes`);
        const ref = refOfKey(params.pipeline);
        const saved = await savePipelineConfig(store, {
          teamId: team.id,
          ...ref,
          source: body.source,
          file: body.file || 'pipeline.yml',
          ...(body.expectedVersion === undefined ? {} : { expectedVersion: body.expectedVersion }),
          createPaused: true,
          at: Date.now(),
        });
        if (!saved.ok) {
          const conflict = saved.reason === 'conflict';
          throw new HttpError(
            conflict ? 409 : 400,
            saved.reason,
            saved.message,
            saved.diagnostics.length ? saved.diagnostics : undefined,
          );
        }
        req.log.info(
          { team: team.name, pipeline: formatPipelineRef(ref), version: saved.version },
          'pipeline saved',
        );
        leader.schedule(saved.pipelineId);
        return { created: saved.created, version: saved.version, warnings: saved.warnings };
      },
    }),

    ...pauseRoutes,
    ...exposeRoutes,

    route({
      method: 'PUT',
      url: '/teams/:team/pipelines/:pipeline/rename',
      action: 'rename-pipeline',
      role: 'member',
      params: pipelineParams,
      body: renamePipelineBody,
      handler: async ({ params, body }, req, reply) => {
        // As in Concourse, a rename names a whole instance group: any of its pipelines stands for it.
        const team = await ctx.teamOf(params.team);
        const { name: group } = refOfKey(params.pipeline);
        const pipeline = (await store.listPipelines(team.id)).find((p) => p.name === group);
        if (!pipeline) throw notFound(`pipeline "${group}"`);
        await store.renamePipeline(pipeline.id, body.name, Date.now());
        req.log.info({ team: params.team, pipeline: pipeline.name, to: body.name }, 'pipeline renamed');
        return reply.code(204).send();
      },
    }),

    route({
      method: 'DELETE',
      url: '/teams/:team/pipelines/:pipeline',
      action: 'destroy-pipeline',
      role: 'member',
      params: pipelineParams,
      handler: async ({ params }, req, reply) => {
        const pipeline = await ctx.pipelineOf(params.team, params.pipeline);
        await stopBuilds(ctx, pipeline.id);
        await archiveChildren(store, pipeline.id, Date.now());
        await store.deletePipeline(pipeline.id);
        req.log.info({ team: params.team, pipeline: pipeline.name }, 'pipeline destroyed');
        return reply.code(204).send();
      },
    }),
  ];
}

/** How long destroy-pipeline waits for the builds it aborted to settle. */
const DESTROY_SETTLE_MS = 30_000;

/**
 * Before a pipeline's rows go: no new job builds (paused), and none of its builds still run in the
 * engine, which would write to rows that no longer exist. As Concourse, running builds are aborted.
 */
async function stopBuilds(ctx: ApiContext, pipelineId: number): Promise<void> {
  const { store, leader } = ctx.deps;
  await store.setPipelinePaused(pipelineId, true, Date.now());
  let live = (await store.listBuilds({ pipelineId, statuses: ['pending', 'started'], limit: 10_000 })).filter(
    (b) => leader.runs(b),
  );
  for (const build of live) await leader.abort(build.id);
  const deadline = Date.now() + DESTROY_SETTLE_MS;
  // The builds may run on another hub replica (the leader): their stored status says when they end.
  while (live.length > 0) {
    if (Date.now() > deadline)
      throw new HttpError(
        409,
        'builds_running',
        "the pipeline's aborted builds have not ended yet; try again",
      );
    await new Promise((resolve) => setTimeout(resolve, 50));
    const now = await Promise.all(live.map((b) => store.getBuild(b.id)));
    live = now.filter((b): b is NonNullable<typeof b> => b !== undefined && leader.runs(b));
  }
}
