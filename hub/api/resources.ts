// The API's resource routes: list resources with their check status, run a check (optionally from a
// version), list versions, enable/disable and pin/unpin them, and the webhook that triggers a check.
// The webhook is the one route without an API token: it carries the resource's `webhook_token`.

import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { PipelineConfigs } from '../configs/pipeline-cache.js';
import { isVersion, versionKeyOf } from '../engine/resource-step.js';
import type { Checker } from '../scheduler/checker.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import type { BuildView, Pipeline, ResourceScope, Store } from '../store/store.js';
import { HttpError, notFound } from './errors.js';
import type {
  BuildSummary,
  CheckResourceRequest,
  PinRequest,
  ResourceSummary,
  ResourceVersionSummary,
} from './types.js';
import { API_PREFIX } from './types.js';

export interface ResourceRouteDeps {
  store: Store;
  checker: Checker;
  configs: PipelineConfigs;
  pipelineOf: (team: string, pipeline: string) => Promise<Pipeline>;
  summary: (build: BuildView) => BuildSummary;
}

type Api = FastifyInstance;
type Params = { team: string; pipeline: string; resource: string };
type VersionParams = Params & { id: string };

async function resourceOf(deps: ResourceRouteDeps, params: Params) {
  const pipeline = await deps.pipelineOf(params.team, params.pipeline);
  const config = await deps.configs.get(pipeline.id);
  const resource = config.resources.find((r) => r.name === params.resource);
  if (!resource) throw notFound(`resource "${params.pipeline}/${params.resource}"`);
  return {
    pipeline,
    config,
    resource,
    key: await versionKeyOf(deps.store, config, pipeline.id, { scope: 'resource', ...resource }),
  };
}

/** The optional `from` of a check request, checked. */
function fromOf(body: CheckResourceRequest | undefined): Record<string, string> | undefined {
  const from = body?.from;
  if (from !== undefined && !isVersion(from))
    throw new HttpError(400, 'bad_request', '"from" must be a map of strings (a version)');
  return from;
}

/** Starts a check build of a resource or resource type (or joins the running one). */
async function startCheck(
  deps: ResourceRouteDeps,
  pipeline: Pipeline,
  scope: ResourceScope,
  name: string,
  from?: Record<string, string>,
) {
  const build = await deps.checker.checkNow(pipeline.id, name, from, scope);
  if (!build) throw notFound(`${scope === 'type' ? 'resource type' : 'resource'} "${pipeline.name}/${name}"`);
  return deps.summary(build);
}

export function registerResourceRoutes(api: Api, deps: ResourceRouteDeps & { scheduler: Scheduler }): void {
  const { store } = deps;
  const base = '/teams/:team/pipelines/:pipeline/resources';

  api.get<{ Params: { team: string; pipeline: string } }>(base, async (req): Promise<ResourceSummary[]> => {
    const pipeline = await deps.pipelineOf(req.params.team, req.params.pipeline);
    const config = await deps.configs.get(pipeline.id);
    return Promise.all(
      config.resources.map(async (resource) => {
        const key = await versionKeyOf(store, config, pipeline.id, { scope: 'resource', ...resource });
        const state = await store.resources.getState(pipeline.id, 'resource', resource.name);
        const current = state?.configHash === key.configHash ? state : undefined;
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
  });

  api.post<{ Params: Params; Body: CheckResourceRequest | undefined }>(
    `${base}/:resource/check`,
    async (req, reply) => {
      const { pipeline, resource } = await resourceOf(deps, req.params);
      const build = await startCheck(deps, pipeline, 'resource', resource.name, fromOf(req.body));
      req.log.info(
        { pipeline: pipeline.name, resource: resource.name, buildId: build.id },
        'check requested',
      );
      void reply.code(201);
      return build;
    },
  );

  api.post<{
    Params: { team: string; pipeline: string; type: string };
    Body: CheckResourceRequest | undefined;
  }>('/teams/:team/pipelines/:pipeline/resource-types/:type/check', async (req, reply) => {
    const pipeline = await deps.pipelineOf(req.params.team, req.params.pipeline);
    const config = await deps.configs.get(pipeline.id);
    if (!config.resource_types.some((t) => t.name === req.params.type))
      throw notFound(`resource type "${req.params.pipeline}/${req.params.type}"`);
    const build = await startCheck(deps, pipeline, 'type', req.params.type, fromOf(req.body));
    req.log.info(
      { pipeline: pipeline.name, type: req.params.type, buildId: build.id },
      'type check requested',
    );
    void reply.code(201);
    return build;
  });

  api.get<{ Params: Params; Querystring: { limit?: string } }>(
    `${base}/:resource/versions`,
    async (req): Promise<ResourceVersionSummary[]> => {
      const { key } = await resourceOf(deps, req.params);
      const limit = Math.min(Math.max(Number(req.query.limit ?? 100) || 100, 1), 1000);
      const versions = await store.resources.listVersions(key, { includeDisabled: true, limit });
      return versions.map((v) => ({
        id: v.id,
        version: v.version,
        metadata: v.metadata,
        enabled: !v.disabled,
      }));
    },
  );

  const versionOf = async (params: VersionParams) => {
    const found = await resourceOf(deps, params);
    const version = await store.resources.getVersion(Number(params.id));
    if (!version || version.configHash !== found.key.configHash || version.name !== found.resource.name)
      throw notFound(`version ${params.id} of resource "${params.resource}"`);
    return { ...found, version };
  };

  for (const [action, disabled] of [
    ['enable', false],
    ['disable', true],
  ] as const) {
    api.put<{ Params: VersionParams }>(`${base}/:resource/versions/:id/${action}`, async (req, reply) => {
      const { pipeline, version } = await versionOf(req.params);
      await store.resources.setVersionDisabled(version.id, disabled);
      deps.scheduler.request(pipeline.id);
      return reply.code(204).send();
    });
  }

  api.put<{ Params: VersionParams; Body: PinRequest | undefined }>(
    `${base}/:resource/versions/:id/pin`,
    async (req, reply) => {
      const { pipeline, resource, key, version } = await versionOf(req.params);
      if (resource.version)
        throw new HttpError(409, 'conflict', `resource "${resource.name}" is pinned in the pipeline config`);
      await store.resources.updateState(key, {
        pinnedVersion: version.version,
        pinComment: typeof req.body?.comment === 'string' ? req.body.comment : null,
      });
      deps.scheduler.request(pipeline.id);
      return reply.code(204).send();
    },
  );

  api.put<{ Params: Params }>(`${base}/:resource/unpin`, async (req, reply) => {
    const { pipeline, resource, key } = await resourceOf(deps, req.params);
    if (resource.version)
      throw new HttpError(409, 'conflict', `resource "${resource.name}" is pinned in the pipeline config`);
    await store.resources.updateState(key, { pinnedVersion: null, pinComment: null });
    deps.scheduler.request(pipeline.id);
    return reply.code(204).send();
  });
}

/** POST .../resources/:resource/check/webhook?webhook_token=TOKEN: a check, authorized by the token alone. */
export function registerWebhook(app: Api, deps: ResourceRouteDeps): void {
  app.post<{ Params: Params; Querystring: { webhook_token?: string } }>(
    `${API_PREFIX}/teams/:team/pipelines/:pipeline/resources/:resource/check/webhook`,
    async (req, reply) => {
      const denied = new HttpError(401, 'unauthorized', 'missing or wrong webhook_token');
      const { pipeline, resource } = await resourceOf(deps, req.params).catch(() => {
        // Unknown pipelines and resources look like a wrong token: the route is public.
        throw denied;
      });
      const expected = resource.webhook_token;
      const given = req.query.webhook_token ?? '';
      if (
        expected === undefined ||
        Buffer.byteLength(given) !== Buffer.byteLength(expected) ||
        !timingSafeEqual(Buffer.from(given), Buffer.from(expected))
      )
        throw denied;
      const build = await startCheck(deps, pipeline, 'resource', resource.name);
      req.log.info({ pipeline: pipeline.name, resource: resource.name, buildId: build.id }, 'webhook check');
      void reply.code(201);
      return build;
    },
  );
}
