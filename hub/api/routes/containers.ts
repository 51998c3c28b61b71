// `outpost containers` and `intercept --handle` (fly's containers and hijack --handle): a team's steps
// that can be entered, each named by a handle. Outpost runs steps, not containers: a handle is a step
// run's id, listed while the step runs and for a while after it failed (its agent keeps a failed step
// for its pool's keep_failed_steps_for; intercept says when it no longer has it). A succeeded step is
// listed while its build runs, and as long as a failed one after a build that did not succeed, as
// Concourse lists a recent build's containers: its agent keeps it until BuildEnded (agent/kept-steps.ts).
// What is listed is what intercept may enter (mayBeEntered).

import { z } from 'zod';
import { CHECK_JOB_PREFIX, type BuildView, type StepRun } from '../../store/store.js';
import type { ApiContext } from '../context.js';
import { notFound } from '../errors.js';
import { id, name } from '../fields.js';
import { route, type Route } from '../route.js';
import type { ContainerSummary } from '../types.js';
import { interceptStep, mayBeEntered, stepTypeOf } from './intercept.js';

/**
 * How long after its end a failed step is listed: the default keep_failed_steps_for (the hub does not
 * know each pool's setting). Concourse lists a failed build's containers until they are collected.
 */
const FAILED_LISTED_MS = 5 * 60 * 1000;

export function containerRoutes(ctx: ApiContext): Route[] {
  const { store } = ctx.deps;
  /** The step run a handle names, whatever its state (404: none). */
  const stepOf = async (handle: number): Promise<StepRun> => {
    const step = await store.getStepRun(handle);
    if (!step) throw notFound(`container ${handle}`);
    return step;
  };
  return [
    route({
      method: 'GET',
      url: '/teams/:team/containers',
      // As Concourse: viewers list containers; entering one takes a member.
      role: 'viewer',
      params: z.object({ team: name }),
      handler: async ({ params }) => {
        const team = await ctx.teamOf(params.team);
        const runs = await store.containers.list(team.id, Date.now() - FAILED_LISTED_MS);
        const builds = new Map<number, BuildView>();
        for (const buildId of new Set(runs.map((r) => r.buildId)))
          builds.set(buildId, await ctx.buildOf(buildId));
        return runs.flatMap((run) => {
          const build = builds.get(run.buildId);
          return build && run.agentName && mayBeEntered(run, build.status)
            ? [summaryOf(run, build, run.agentName)]
            : [];
        });
      },
    }),
    route({
      method: 'POST',
      url: '/containers/:id/intercept',
      role: 'member',
      action: 'intercept',
      team: async ({ id: handle }) => ({
        team: (await ctx.buildOf((await stepOf(handle)).buildId)).teamName,
        what: `container ${handle}`,
      }),
      params: z.object({ id }),
      handler: async ({ params }, req, reply) => {
        const step = await stepOf(params.id);
        if (!mayBeEntered(step, (await ctx.buildOf(step.buildId)).status))
          throw notFound(`container ${params.id}`);
        return interceptStep(ctx, step, req, reply);
      },
    }),
  ];
}

function summaryOf(run: StepRun, build: BuildView, agent: string): ContainerSummary {
  const checked = build.jobName.startsWith(CHECK_JOB_PREFIX.resource)
    ? build.jobName.slice(CHECK_JOB_PREFIX.resource.length)
    : build.jobName.startsWith(CHECK_JOB_PREFIX.type)
      ? build.jobName.slice(CHECK_JOB_PREFIX.type.length)
      : undefined;
  const attempts = [...run.planId.matchAll(/\/attempt\/(\d+)/g)].map((m) => m[1]);
  return {
    handle: String(run.id),
    agent,
    team: build.teamName,
    pipeline: build.oneOff ? '' : build.pipelineName,
    ...(build.pipelineInstanceVars ? { pipeline_instance_vars: build.pipelineInstanceVars } : {}),
    job: build.oneOff || checked !== undefined ? '' : build.jobName,
    buildId: build.id,
    buildName: build.name,
    type: stepTypeOf(run),
    name: checked ?? run.name,
    attempt: attempts.join('.'),
    state: run.status === 'running' || run.status === 'succeeded' ? run.status : 'failed',
  };
}
