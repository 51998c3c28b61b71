// Forgetting what is known of a resource (fly's clear-resource-cache and clear-versions): its cached
// fetches, so the next get fetches again, or its whole version history, so the next check starts over.

import { z } from 'zod';
import type { ApiContext } from '../context.js';
import { notFound } from '../errors.js';
import { name, pipelineParams, resourceParams } from '../fields.js';
import { route, type Route } from '../route.js';
import type { ClearedResponse } from '../types.js';
import { resourceOf } from './resources.js';

const cacheBody = z.strictObject({ version: z.record(z.string(), z.string()).optional() }).optional();

export function resourceClearingRoutes(ctx: ApiContext): Route[] {
  const { store, leader } = ctx.deps;
  const base = '/teams/:team/pipelines/:pipeline';
  return [
    route({
      method: 'DELETE',
      url: `${base}/resources/:resource/cache`,
      role: 'pipeline-operator',
      action: 'clear-resource-cache',
      params: resourceParams,
      body: cacheBody,
      handler: async ({ params, body }, req): Promise<ClearedResponse> => {
        const { pipeline, resource } = await resourceOf(ctx, params);
        const removed = await store.resources.clearCaches(
          pipeline.id,
          'resource',
          resource.name,
          body?.version,
        );
        req.log.info(
          { pipeline: pipeline.name, resource: resource.name, removed },
          'resource caches cleared',
        );
        return { removed };
      },
    }),

    route({
      method: 'DELETE',
      url: `${base}/resources/:resource/versions`,
      role: 'pipeline-operator',
      action: 'clear-versions',
      params: resourceParams,
      handler: async ({ params }, req): Promise<ClearedResponse> => {
        const { pipeline, resource } = await resourceOf(ctx, params);
        const removed = await store.resources.clearVersions(pipeline.id, 'resource', resource.name);
        req.log.info(
          { pipeline: pipeline.name, resource: resource.name, removed },
          'resource versions cleared',
        );
        leader.schedule(pipeline.id);
        return { removed };
      },
    }),

    route({
      method: 'DELETE',
      url: `${base}/resource-types/:type/versions`,
      role: 'pipeline-operator',
      action: 'clear-versions',
      params: pipelineParams.extend({ type: name }),
      handler: async ({ params }, req): Promise<ClearedResponse> => {
        const pipeline = await ctx.pipelineOf(params.team, params.pipeline);
        const config = await ctx.deps.configs.get(pipeline.id);
        if (!config.resource_types.some((t) => t.name === params.type))
          throw notFound(`resource type "${params.pipeline}/${params.type}"`);
        const removed = await store.resources.clearVersions(pipeline.id, 'type', params.type);
        req.log.info(
          { pipeline: pipeline.name, type: params.type, removed },
          'resource type versions cleared',
        );
        leader.schedule(pipeline.id);
        return { removed };
      },
    }),
  ];
}
