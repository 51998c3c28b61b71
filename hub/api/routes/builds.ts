// Builds by id: list (optionally of a team, pipeline or job), show, abort, and stream their events.

import { z } from 'zod';
import type { Store } from '../../store/store.js';
import { requireCaller } from '../auth.js';
import type { ApiContext } from '../context.js';
import { HttpError } from '../errors.js';
import { id, limit } from '../fields.js';
import { addressPipeline } from '../pipeline-address.js';
import { route, type Route, type TeamOwner } from '../route.js';
import { streamBuildEvents } from '../sse.js';
import { stepTree } from '../step-tree.js';
import type { BuildStep, BuildSummary } from '../types.js';

const buildParams = z.object({ id });

const millis = z
  .string()
  .regex(/^\d{1,15}$/, 'must be Unix milliseconds, like 1700000000000')
  .transform(Number);

/** The team of the build a path's `:id` names, for routes that need a role in it (404 when absent). */
export const buildTeam =
  (ctx: ApiContext) =>
  async ({ id }: { id: number }): Promise<TeamOwner> => ({
    team: (await ctx.buildOf(id)).teamName,
    what: `build ${id}`,
  });

export function buildRoutes(ctx: ApiContext): Route[] {
  const { store, leader, events } = ctx.deps;
  const teamOfBuild = buildTeam(ctx);
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
        const filter: Parameters<Store['listBuilds']>[0] = { limit: q.limit, jobKind: ['job', 'one-off'] };
        if (q.since !== undefined) filter.startedSince = q.since;
        if (q.until !== undefined) filter.startedUntil = q.until;
        const caller = requireCaller(req);
        if (!caller.admin) filter.teamIds = await ctx.visibleTeamIds(caller);
        if (q.team || q.pipeline || q.job) {
          const team = await ctx.visibleTeamOf(caller, q.team || 'main');
          filter.teamId = team.id;
          if (q.pipeline) {
            // An instance: `pipeline` is its name and the `vars` query its instance vars, as in paths.
            const { pipeline: key } = addressPipeline({ pipeline: q.pipeline }, req.query);
            filter.pipelineId = (await ctx.pipelineOf(team.name, key)).id;
            if (q.job) filter.jobId = (await ctx.jobOf(team.name, key, q.job)).id;
          }
        }
        return Promise.all((await store.listBuilds(filter)).map((b) => ctx.summary(b)));
      },
    }),

    route({
      method: 'GET',
      url: '/builds/:id',
      exposed: (p) => ctx.buildExposed(p.id, false),
      role: 'viewer',
      team: teamOfBuild,
      params: buildParams,
      handler: async ({ params }): Promise<BuildSummary> => ctx.summary(await ctx.buildOf(params.id)),
    }),

    route({
      method: 'GET',
      url: '/builds/:id/plan',
      exposed: (p) => ctx.buildExposed(p.id, true),
      role: 'viewer',
      team: teamOfBuild,
      params: buildParams,
      handler: async ({ params }): Promise<BuildStep> => stepTree((await ctx.buildOf(params.id)).plan),
    }),

    route({
      method: 'PUT',
      url: '/builds/:id/abort',
      action: 'abort-build',
      role: 'pipeline-operator',
      team: teamOfBuild,
      params: buildParams,
      handler: async ({ params }, req, reply) => {
        const build = await ctx.buildOf(params.id);
        // Concourse answers 204 here too, and fly prints "build successfully aborted" for a build that
        // ended long ago; saying that it finished, and how, tells the user what actually happened.
        if (!(await leader.abort(build.id))) {
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
      exposed: (p) => ctx.buildExposed(p.id, true),
      role: 'viewer',
      team: teamOfBuild,
      params: buildParams,
      handler: async ({ params }, req, reply) => {
        const build = await ctx.buildOf(params.id);
        // HEAD has no body: the stream's headers and nothing else. Streamed, its subscription stayed open
        // (a running build's for as long as the connection did) and the connection served nothing after it.
        if (req.method === 'HEAD') return reply.code(200).type('text/event-stream; charset=utf-8').send();
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
