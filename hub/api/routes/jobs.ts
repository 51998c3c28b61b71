// Jobs of a pipeline: list them with their latest build, trigger one, list and find its builds, pause.

import { jobInputs } from '../../pipeline/checks.js';
import { groupMatches } from '../../pipeline/resources.js';
import type { ApiContext } from '../context.js';
import { notFound } from '../errors.js';
import { jobParams, limit, name, pipelineParams } from '../fields.js';
import { route, type Route } from '../route.js';
import type { BuildSummary, JobSummary } from '../types.js';
import { z } from 'zod';

export function jobRoutes(ctx: ApiContext): Route[] {
  const { store, leader, configs } = ctx.deps;
  const pauseRoutes = (['pause', 'unpause'] as const).map((action) =>
    route({
      method: 'PUT',
      url: `/teams/:team/pipelines/:pipeline/jobs/:job/${action}`,
      action: `${action}-job`,
      role: 'pipeline-operator',
      params: jobParams,
      handler: async ({ params }, req, reply) => {
        const job = await ctx.jobOf(params.team, params.pipeline, params.job);
        await store.setJobPaused(job.id, action === 'pause');
        req.log.info({ job: job.name }, `job ${action}d`);
        leader.schedule(job.pipelineId);
        return reply.code(204).send();
      },
    }),
  );

  return [
    route({
      method: 'GET',
      url: '/teams/:team/pipelines/:pipeline/jobs',
      exposed: (p) => ctx.pipelineExposed(p.team, p.pipeline),
      role: 'viewer',
      params: pipelineParams,
      handler: async ({ params }): Promise<JobSummary[]> => {
        const pipeline = await ctx.pipelineOf(params.team, params.pipeline);
        const jobs = await store.listJobs(pipeline.id);
        const { groups } = await configs.get(pipeline.id);
        return Promise.all(
          jobs.map(async (job) => {
            const [latest] = await store.listBuilds({ jobId: job.id, limit: 1 });
            return {
              name: job.name,
              pipeline: pipeline.name,
              team: params.team,
              paused: job.paused,
              latestBuild: latest ? await ctx.summary(latest) : null,
              inputs: jobInputs(job.plan).map((get) => ({
                name: get.name,
                resource: get.resource,
                passed: get.passed,
                trigger: get.trigger,
              })),
              groups: groups.filter((g) => g.jobs.some((p) => groupMatches(p, job.name))).map((g) => g.name),
            };
          }),
        );
      },
    }),

    route({
      method: 'POST',
      url: '/teams/:team/pipelines/:pipeline/jobs/:job/builds',
      action: 'trigger-job',
      role: 'pipeline-operator',
      params: jobParams,
      handler: async ({ params }, req, reply): Promise<BuildSummary> => {
        const job = await ctx.jobOf(params.team, params.pipeline, params.job);
        const build = await leader.trigger(job);
        // Debug, not info: every trigger is in the audit log already, and at hundreds of builds a second
        // this line was a synchronous write to stdout per build (a few % of the hub's CPU per step).
        req.log.debug({ buildId: build.id, job: job.name }, 'build triggered');
        void reply.code(201);
        return ctx.summary(build);
      },
    }),

    route({
      method: 'GET',
      url: '/teams/:team/pipelines/:pipeline/jobs/:job/builds',
      exposed: (p) => ctx.pipelineExposed(p.team, p.pipeline),
      role: 'viewer',
      params: jobParams,
      query: z.object({ limit: limit(50) }),
      handler: async ({ params, query }): Promise<BuildSummary[]> => {
        const job = await ctx.jobOf(params.team, params.pipeline, params.job);
        const builds = await store.listBuilds({ jobId: job.id, limit: query.limit });
        return Promise.all(builds.map((b) => ctx.summary(b)));
      },
    }),

    route({
      method: 'GET',
      url: '/teams/:team/pipelines/:pipeline/jobs/:job/builds/:name',
      exposed: (p) => ctx.pipelineExposed(p.team, p.pipeline),
      role: 'viewer',
      params: jobParams.extend({ name }),
      handler: async ({ params }): Promise<BuildSummary> => {
        const job = await ctx.jobOf(params.team, params.pipeline, params.job);
        const build = await store.getBuildByName(job.id, params.name);
        if (!build) throw notFound(`build ${params.pipeline}/${params.job} #${params.name}`);
        return ctx.summary(build);
      },
    }),

    ...pauseRoutes,
  ];
}
