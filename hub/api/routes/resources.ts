// A pipeline's resources: list them with their check status, run a check (optionally from a version) of
// a resource or resource type, list versions, enable/disable and pin/unpin them.

import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { stateOfConfig } from '../../resources/check-state.js';
import { inHistory, versionKeyOf } from '../../resources/history.js';
import type { Pipeline, ResourceScope } from '../../store/store.js';
import type { ApiContext } from '../context.js';
import { HttpError, notFound } from '../errors.js';
import { limit, name, pipelineParams, resourceParams, versionParams } from '../fields.js';
import { route, type Route } from '../route.js';
import type { BuildSummary, ResourceSummary, ResourceVersionSummary } from '../types.js';

type ResourceParams = z.output<typeof resourceParams>;

/** The body of a check: an optional version (a map of strings) to check from. */
const checkBody = z
  .strictObject({ from: z.record(z.string(), z.string()).optional(), shallow: z.boolean().optional() })
  .optional();

/** The resource a path names, its pipeline's config and its version history key. */
export async function resourceOf(ctx: ApiContext, params: ResourceParams) {
  const pipeline = await ctx.pipelineOf(params.team, params.pipeline);
  const config = await ctx.deps.configs.get(pipeline.id);
  const resource = config.resources.find((r) => r.name === params.resource);
  if (!resource) throw notFound(`resource "${params.pipeline}/${params.resource}"`);
  return {
    pipeline,
    config,
    resource,
    key: await versionKeyOf(ctx.store, config, pipeline.id, { scope: 'resource', ...resource }),
  };
}

/** A check to start, and the log line that says who asked for it. */
interface CheckRequest {
  pipeline: Pipeline;
  scope: ResourceScope;
  name: string;
  from?: Record<string, string> | undefined;
  shallow?: boolean | undefined;
  logMessage: string;
}

/** Starts a check build of a resource or resource type (or joins the running one): a 201 with it. */
export async function startCheck(
  ctx: ApiContext,
  reply: FastifyReply,
  check: CheckRequest,
): Promise<BuildSummary> {
  const { pipeline, scope, name } = check;
  const request = {
    ...(check.from === undefined ? {} : { from: check.from }),
    ...(check.shallow === true ? { shallow: true } : {}),
  };
  const build = await ctx.deps.leader.checkNow({ pipelineId: pipeline.id, name, request, scope });
  if (!build) throw notFound(`${scope === 'type' ? 'resource type' : 'resource'} "${pipeline.name}/${name}"`);
  reply.log.info({ pipeline: pipeline.name, [scope]: name, buildId: build.id }, check.logMessage);
  void reply.code(201);
  return ctx.summary(build);
}

export function resourceRoutes(ctx: ApiContext): Route[] {
  const { store, configs, leader } = ctx.deps;
  const base = '/teams/:team/pipelines/:pipeline/resources';

  const versionOf = async (params: z.output<typeof versionParams>) => {
    const found = await resourceOf(ctx, params);
    const version = await store.resources.getVersion(params.id);
    if (!version || !inHistory(version, found.key))
      throw notFound(`version ${params.id} of resource "${params.resource}"`);
    return { ...found, version };
  };

  const pinnedInConfig = (resource: string) =>
    new HttpError(409, 'conflict', `resource "${resource}" is pinned in the pipeline config`);

  const enableRoutes = (['enable', 'disable'] as const).map((action) =>
    route({
      method: 'PUT',
      url: `${base}/:resource/versions/:id/${action}`,
      action: `${action}-resource-version`,
      role: 'pipeline-operator',
      params: versionParams,
      handler: async ({ params }, _req, reply) => {
        const { pipeline, version } = await versionOf(params);
        await store.resources.setVersionDisabled(version.id, action === 'disable');
        leader.schedule(pipeline.id);
        return reply.code(204).send();
      },
    }),
  );

  return [
    route({
      method: 'GET',
      url: base,
      exposed: (p) => ctx.pipelineExposed(p.team, p.pipeline),
      role: 'viewer',
      params: pipelineParams,
      handler: async ({ params }): Promise<ResourceSummary[]> => {
        const pipeline = await ctx.pipelineOf(params.team, params.pipeline);
        const config = await configs.get(pipeline.id);
        return Promise.all(
          config.resources.map(async (resource) => {
            const key = await versionKeyOf(store, config, pipeline.id, { scope: 'resource', ...resource });
            const state = await store.resources.getState(pipeline.id, 'resource', resource.name);
            const current = stateOfConfig(state, key);
            return {
              name: resource.name,
              type: resource.type,
              checkStatus: current?.checkStatus ?? null,
              checkError: current?.checkError ?? null,
              lastCheckedAt: current?.lastCheckEndedAt ?? null,
              pinnedVersion: resource.version ?? state?.pinnedVersion ?? null,
              pinComment: resource.version ? 'pinned in the pipeline config' : (state?.pinComment ?? null),
              webhook: resource.webhook_token !== undefined,
            };
          }),
        );
      },
    }),

    route({
      method: 'POST',
      url: `${base}/:resource/check`,
      action: 'check-resource',
      role: 'pipeline-operator',
      params: resourceParams,
      body: checkBody,
      handler: async ({ params, body }, _req, reply) => {
        const { pipeline, resource } = await resourceOf(ctx, params);
        return startCheck(ctx, reply, {
          pipeline,
          scope: 'resource',
          name: resource.name,
          from: body?.from,
          shallow: body?.shallow,
          logMessage: 'check requested',
        });
      },
    }),

    route({
      method: 'POST',
      url: '/teams/:team/pipelines/:pipeline/resource-types/:type/check',
      action: 'check-resource-type',
      role: 'pipeline-operator',
      params: pipelineParams.extend({ type: name }),
      body: checkBody,
      handler: async ({ params, body }, _req, reply) => {
        const pipeline = await ctx.pipelineOf(params.team, params.pipeline);
        const config = await configs.get(pipeline.id);
        if (!config.resource_types.some((t) => t.name === params.type))
          throw notFound(`resource type "${params.pipeline}/${params.type}"`);
        return startCheck(ctx, reply, {
          pipeline,
          scope: 'type',
          name: params.type,
          from: body?.from,
          shallow: body?.shallow,
          logMessage: 'type check requested',
        });
      },
    }),

    route({
      method: 'GET',
      url: `${base}/:resource/versions`,
      exposed: (p) => ctx.pipelineExposed(p.team, p.pipeline),
      role: 'viewer',
      params: resourceParams,
      query: z.object({ limit: limit(100) }),
      handler: async ({ params, query }): Promise<ResourceVersionSummary[]> => {
        const { key } = await resourceOf(ctx, params);
        const versions = await store.resources.listVersions(key, {
          includeDisabled: true,
          limit: query.limit,
        });
        return versions.map((v) => ({
          id: v.id,
          version: v.version,
          metadata: v.metadata,
          enabled: !v.disabled,
        }));
      },
    }),

    ...enableRoutes,

    route({
      method: 'PUT',
      url: `${base}/:resource/versions/:id/pin`,
      action: 'pin-resource',
      role: 'pipeline-operator',
      params: versionParams,
      body: z.strictObject({ comment: z.string().optional() }).optional(),
      handler: async ({ params, body }, _req, reply) => {
        const { pipeline, resource, key, version } = await versionOf(params);
        if (resource.version) throw pinnedInConfig(resource.name);
        await store.resources.updateState(key, {
          pinnedVersion: version.version,
          pinComment: body?.comment ?? null,
        });
        leader.schedule(pipeline.id);
        return reply.code(204).send();
      },
    }),

    route({
      method: 'PUT',
      url: `${base}/:resource/unpin`,
      action: 'unpin-resource',
      role: 'pipeline-operator',
      params: resourceParams,
      handler: async ({ params }, _req, reply) => {
        const { pipeline, resource, key } = await resourceOf(ctx, params);
        if (resource.version) throw pinnedInConfig(resource.name);
        await store.resources.updateState(key, { pinnedVersion: null, pinComment: null });
        leader.schedule(pipeline.id);
        return reply.code(204).send();
      },
    }),
  ];
}
