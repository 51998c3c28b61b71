// Pipelines across a caller's teams, archiving and ordering them (fly's `pipelines -a`,
// archive-pipeline, order-pipelines and order-instanced-pipelines).

import { z } from 'zod';
import { archivePipeline } from '../../configs/archive-pipelines.js';
import { requireCaller } from '../auth.js';
import type { ApiContext } from '../context.js';
import { HttpError } from '../errors.js';
import { name, pipelineParams } from '../fields.js';
import { route, type Route } from '../route.js';
import type { PipelineSummary } from '../types.js';
import type { Pipeline } from '../../store/store.js';
import { formatPipelineRef, pipelineKey, refOfKey } from '../../pipeline/instance-vars.js';

/** A pipeline as the API shows it. */
export function pipelineSummary(p: Pipeline, team: string): PipelineSummary {
  return {
    id: p.id,
    name: p.name,
    ...(p.instanceVars ? { instance_vars: p.instanceVars } : {}),
    team,
    paused: p.paused,
    public: p.public,
    archived: p.archived,
    configVersion: p.configVersion,
    updatedAt: p.updatedAt,
  };
}

export function pipelineLifecycleRoutes(ctx: ApiContext): Route[] {
  const { store, leader } = ctx.deps;
  return [
    route({
      method: 'GET',
      url: '/pipelines',
      role: 'authenticated',
      handler: async (_parsed, req): Promise<PipelineSummary[]> => {
        const caller = requireCaller(req);
        const visible = new Set(await ctx.visibleTeamIds(caller));
        const all: PipelineSummary[] = [];
        for (const team of await store.teams.list())
          if (caller.admin || visible.has(team.id))
            for (const p of await store.listPipelines(team.id)) all.push(pipelineSummary(p, team.name));
        return all;
      },
    }),

    route({
      method: 'PUT',
      url: '/teams/:team/pipelines/:pipeline/archive',
      role: 'member',
      action: 'archive-pipeline',
      params: pipelineParams,
      handler: async ({ params }, req, reply) => {
        const pipeline = await ctx.pipelineOf(params.team, params.pipeline);
        await archivePipeline(store, pipeline, Date.now());
        req.log.info({ team: params.team, pipeline: pipeline.name }, 'pipeline archived');
        leader.schedule(pipeline.id);
        return reply.code(204).send();
      },
    }),

    route({
      method: 'PUT',
      url: '/teams/:team/pipelines/ordering',
      role: 'member',
      action: 'order-pipelines',
      params: z.object({ team: name }),
      body: z.array(name).max(10_000),
      handler: async ({ params, body }, req, reply) => {
        const team = await ctx.teamOf(params.team);
        const known = new Set((await store.listPipelines(team.id)).map((p) => p.name));
        const unknown = body.filter((n) => !known.has(n));
        if (unknown.length > 0)
          throw new HttpError(404, 'not_found', `pipeline "${unknown[0] ?? ''}" not found`);
        await store.pipelineLifecycle.order(team.id, [...new Set(body)]);
        req.log.info({ team: team.name, pipelines: body }, 'pipelines ordered');
        return reply.code(204).send();
      },
    }),

    route({
      method: 'PUT',
      url: '/teams/:team/pipelines/:pipeline/ordering',
      role: 'member',
      action: 'order-instanced-pipelines',
      params: pipelineParams,
      // Concourse's body: each instance's instance vars, in the order wanted ({} names the group's
      // pipeline without instance vars).
      body: z.array(z.record(z.string(), z.unknown())).max(10_000),
      handler: async ({ params, body }, req, reply) => {
        const team = await ctx.teamOf(params.team);
        const group = refOfKey(params.pipeline).name;
        const refs = body.map((vars) => ({
          name: group,
          ...(Object.keys(vars).length > 0 ? { instanceVars: vars } : {}),
        }));
        for (const ref of refs)
          if (!(await store.getPipeline(team.id, ref.name, ref.instanceVars)))
            throw new HttpError(404, 'not_found', `pipeline "${formatPipelineRef(ref)}" not found`);
        const keys = [...new Set(refs.map(pipelineKey))];
        await store.pipelineLifecycle.orderInstances(team.id, group, keys);
        req.log.info({ team: team.name, group, instances: body }, 'instanced pipelines ordered');
        return reply.code(204).send();
      },
    }),
  ];
}
