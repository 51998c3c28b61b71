// Builds by id: list (optionally of a team, pipeline or job), show, abort, and stream their events.

import { z } from 'zod';
import type { Store } from '../../store/store.js';
import { requireCaller } from '../auth.js';
import type { ApiContext } from '../context.js';
import { HttpError } from '../errors.js';
import { id, limit } from '../fields.js';
import { route, type Route } from '../route.js';
import { streamBuildEvents } from '../sse.js';
import { stepTree } from '../step-tree.js';
import type { BuildStep, BuildSummary } from '../types.js';

const buildParams = z.object({ id });

const millis = z
  .string()
  .regex(/^\d{1,15}$/, 'must be Unix milliseconds, like 1700000000000')
  .transform(Number);

export function buildRoutes(ctx: ApiContext): Route[] {
  const { store, engine, events } = ctx.deps;
  const teamOfBuild = async ({ id }: { id: number }) => ({
    team: (await ctx.buildOf(id)).teamName,
    what: `build ${id}`,
  });
  return [
    route({
      method: 'GET',
      url: '/builds',
      role: 'authenticated',
      query: z.object({
        team: z.string().optional(),
        pipeline: z.string().optional(),
        job: z.string().optional(),
        limit: limit(50),
        /** Only builds started at or after / at or before this time, in Unix milliseconds. */
        since: millis.optional(),
        until: millis.optional(),
      }),
      handler: async ({ query: q }, req): Promise<BuildSummary[]> => {
        const filter: Parameters<Store['listBuilds']>[0] = { limit: q.limit, jobKind: 'job' };
        if (q.since !== undefined) filter.startedSince = q.since;
        if (q.until !== undefined) filter.startedUntil = q.until;
        const caller = requireCaller(req);
        if (!caller.admin) filter.teamIds = await ctx.visibleTeamIds(caller);
        if (q.team || q.pipeline || q.job) {
          const team = await ctx.visibleTeamOf(caller, q.team || 'main');
          filter.teamId = team.id;
          if (q.pipeline) {
            const pipeline = await ctx.pipelineOf(team.name, q.pipeline);
            filter.pipelineId = pipeline.id;
            if (q.job) filter.jobId = (await ctx.jobOf(team.name, pipeline.name, q.job)).id;
          }
        }
        return (await store.listBuilds(filter)).map((b) => ctx.summary(b));
      },
    }),

    route({
      method: 'GET',
      url: '/builds/:id',
      role: 'viewer',
      team: teamOfBuild,
      params: buildParams,
      handler: async ({ params }): Promise<BuildSummary> => ctx.summary(await ctx.buildOf(params.id)),
    }),

    route({
      method: 'GET',
      url: '/builds/:id/plan',
      role: 'viewer',
      team: teamOfBuild,
      params: buildParams,
      handler: async ({ params }): Promise<BuildStep> => stepTree((await ctx.buildOf(params.id)).plan),
    }),

    route({
      method: 'PUT',
      url: '/builds/:id/abort',
      role: 'pipeline-operator',
      team: teamOfBuild,
      params: buildParams,
      handler: async ({ params }, req, reply) => {
        const build = await ctx.buildOf(params.id);
        // Concourse answers 204 here too, and fly prints "build successfully aborted" for a build that
        // ended long ago; saying that it finished, and how, tells the user what actually happened.
        if (!(await engine.abort(build.id))) {
          const ended = await ctx.buildOf(build.id);
          throw new HttpError(
            409,
            'build_finished',
            `build ${ended.pipelineName}/${ended.jobName} #${ended.name} has already finished (${ended.status}); there is nothing to abort`,
          );
        }
        req.log.info({ buildId: build.id }, 'build abort requested');
        return reply.code(204).send();
      },
    }),

    route({
      method: 'GET',
      url: '/builds/:id/events',
      role: 'viewer',
      team: teamOfBuild,
      params: buildParams,
      handler: async ({ params }, req, reply) => {
        const build = await ctx.buildOf(params.id);
        const lastEventId = Number(req.headers['last-event-id'] ?? 0);
        reply.hijack();
        await streamBuildEvents(
          reply.raw,
          build.id,
          Number.isFinite(lastEventId) ? lastEventId : 0,
          store,
          events,
        );
      },
    }),
  ];
}
