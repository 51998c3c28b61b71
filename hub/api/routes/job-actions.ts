// What fly does to a job beyond triggering it: rerun a build (Concourse's route: POST to the build),
// ask the scheduler to look at it now (schedule-job), and clear a task step's caches.

import { z } from 'zod';
import { planSteps } from '../../pipeline/plan-walk.js';
import type { ApiContext } from '../context.js';
import { HttpError, notFound } from '../errors.js';
import { jobParams, name } from '../fields.js';
import { route, type Route } from '../route.js';
import type { BuildSummary, ClearedResponse } from '../types.js';

export function jobActionRoutes(ctx: ApiContext): Route[] {
  const { store, leader } = ctx.deps;
  return [
    route({
      method: 'POST',
      url: '/teams/:team/pipelines/:pipeline/jobs/:job/builds/:name',
      role: 'pipeline-operator',
      action: 'rerun-build',
      params: jobParams.extend({ name }),
      handler: async ({ params }, req, reply): Promise<BuildSummary> => {
        const job = await ctx.jobOf(params.team, params.pipeline, params.job);
        const build = await store.getBuildByName(job.id, params.name);
        if (!build) throw notFound(`build ${params.pipeline}/${params.job} #${params.name}`);
        // Its inputs are chosen when it starts: before that there is nothing to run again.
        if (build.status === 'pending')
          throw new HttpError(
            409,
            'build_pending',
            `build ${params.pipeline}/${params.job} #${build.name} has not started yet; there is nothing to rerun`,
          );
        const rerun = await leader.rerun(build);
        req.log.info({ buildId: rerun.id, job: job.name, of: build.name }, 'build rerun');
        void reply.code(201);
        return ctx.summary(rerun);
      },
    }),

    route({
      method: 'PUT',
      url: '/teams/:team/pipelines/:pipeline/jobs/:job/schedule',
      role: 'pipeline-operator',
      action: 'schedule-job',
      params: jobParams,
      handler: async ({ params }, req, reply) => {
        const job = await ctx.jobOf(params.team, params.pipeline, params.job);
        leader.schedule(job.pipelineId);
        req.log.info({ job: job.name }, 'job scheduling requested');
        return reply.code(204).send();
      },
    }),

    route({
      method: 'DELETE',
      url: '/teams/:team/pipelines/:pipeline/jobs/:job/tasks/:step/cache',
      role: 'pipeline-operator',
      action: 'clear-task-cache',
      params: jobParams.extend({ step: name }),
      query: z.object({ cachePath: z.string().optional() }),
      handler: async ({ params, query }, req): Promise<ClearedResponse> => {
        const job = await ctx.jobOf(params.team, params.pipeline, params.job);
        const tasks = [...planSteps(job.plan)].filter((s) => s.kind === 'task' && s.name === params.step);
        if (tasks.length === 0) throw notFound(`task step "${params.step}" of job "${params.job}"`);
        // A task config from a file is known only when it runs: its caches are counted as one.
        const paths = new Set(
          tasks.flatMap((t) =>
            t.kind === 'task' && t.config ? t.config.caches.map((c) => c.path) : ['(from the task file)'],
          ),
        );
        if (query.cachePath && !paths.has(query.cachePath) && !paths.has('(from the task file)'))
          return { removed: 0 };
        // Caches are kept per step, not per path: a named path clears all of the step's caches.
        await store.taskCaches.clear(job.id, params.step);
        req.log.info({ job: job.name, step: params.step }, 'task caches cleared');
        return { removed: paths.size };
      },
    }),
  ];
}
