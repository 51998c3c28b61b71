// The hub's HTTP API (routes listed in ./types.ts). Handlers translate between HTTP and the hub's
// components; they hold no state of their own.

import Fastify, { LogController, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { bearerSecret, type TokenService } from '../auth/tokens.js';
import type { Dispatcher } from '../dispatch/dispatcher.js';
import type { Engine } from '../engine/engine.js';
import type { PipelineConfigs } from '../configs/pipeline-cache.js';
import type { Checker } from '../scheduler/checker.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import { HttpError, notFound } from './errors.js';
import { registerResourceRoutes, registerWebhook } from './resources.js';
import type { BuildEvents } from '../events/build-events.js';
import type { HubMetrics } from '../metrics.js';
import { savePipelineConfig } from '../configs/save-pipeline.js';
import type { BuildView, Store, Team, TokenRecord } from '../store/store.js';
import { TERMINAL_BUILD_STATUSES } from '../store/store.js';
import { streamBuildEvents } from './sse.js';
import type {
  AgentSummary,
  AgentTokenSummary,
  ApiError,
  BuildSummary,
  CreateAgentTokenRequest,
  CreatedAgentToken,
  InfoResponse,
  JobSummary,
  PipelineConfigResponse,
  PipelineSummary,
  SetPipelineRequest,
  SetPipelineResponse,
} from './types.js';
import { API_PREFIX } from './types.js';

export interface ApiDeps {
  store: Store;
  engine: Engine;
  scheduler: Scheduler;
  checker: Checker;
  configs: PipelineConfigs;
  dispatcher: Dispatcher;
  events: BuildEvents;
  tokens: TokenService;
  metrics: HubMetrics;
  log: Logger;
  version: string;
  /** False while starting or draining: /readyz answers 503. */
  ready: () => boolean;
  /** Largest pipeline config accepted, in bytes. */
  maxPipelineBytes: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    token: TokenRecord | undefined;
  }
}

export function buildApi(deps: ApiDeps) {
  const { store, engine, scheduler, dispatcher, tokens } = deps;
  const app = Fastify({
    loggerInstance: deps.log,
    bodyLimit: deps.maxPipelineBytes + 64 * 1024,
    // Requests are logged where they change something, with the fields that matter.
    logController: new LogController({ disableRequestLogging: true }),
    // SSE streams never end on their own; closing the hub must not wait for watchers to leave.
    forceCloseConnections: true,
  });
  app.decorateRequest('token', undefined);

  app.setErrorHandler((err: unknown, req, reply) => {
    if (err instanceof HttpError) {
      const body: ApiError = { error: { code: err.code, message: err.message } };
      if (err.details) body.error.details = err.details;
      return reply.code(err.statusCode).send(body);
    }
    const e = err as { statusCode?: number; code?: string; message?: string };
    if (e.statusCode && e.statusCode < 500) {
      return reply
        .code(e.statusCode)
        .send({ error: { code: e.code ?? 'bad_request', message: e.message ?? 'bad request' } });
    }
    req.log.error({ err }, 'request failed');
    return reply.code(500).send({ error: { code: 'internal', message: 'internal error' } });
  });

  app.get('/healthz', () => ({ ok: true }));
  app.get('/readyz', (_req, reply) =>
    deps.ready() ? { ready: true } : reply.code(503).send({ ready: false }),
  );
  app.get('/metrics', async (_req, reply) => {
    void reply.type(deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });

  // Outside the token-checked scope below: a webhook carries only the resource's webhook_token.
  app.register((pub, _opts, done) => {
    registerWebhook(pub, { store, checker: deps.checker, configs: deps.configs, pipelineOf, summary });
    done();
  });

  app.register(
    (api, _opts, done) => {
      api.addHook('onRequest', async (req: FastifyRequest) => {
        const check = await tokens.verify('api', bearerSecret(req.headers.authorization));
        if (!check.ok) {
          req.log.warn({ reason: check.reason, url: req.url }, 'API request rejected');
          throw new HttpError(
            401,
            'unauthorized',
            'missing, unknown or revoked API token (run `outpost login`)',
          );
        }
        req.token = check.token;
      });

      api.get('/info', (req): InfoResponse => ({ version: deps.version, tokenName: req.token?.name ?? '' }));

      api.get<{ Params: { team: string } }>(
        '/teams/:team/pipelines',
        async (req): Promise<PipelineSummary[]> => {
          const team = await teamOf(req.params.team);
          return (await store.listPipelines(team.id)).map((p) => ({
            name: p.name,
            team: team.name,
            paused: p.paused,
            configVersion: p.configVersion,
          }));
        },
      );

      api.get<{ Params: { team: string; pipeline: string } }>(
        '/teams/:team/pipelines/:pipeline/config',
        async (req): Promise<PipelineConfigResponse> => {
          const pipeline = await pipelineOf(req.params.team, req.params.pipeline);
          const config = await store.getPipelineConfig(pipeline.id);
          if (!config) throw notFound(`config of pipeline "${pipeline.name}"`);
          return { source: config.source, version: config.version };
        },
      );

      api.put<{ Params: { team: string; pipeline: string }; Body: SetPipelineRequest }>(
        '/teams/:team/pipelines/:pipeline/config',
        async (req): Promise<SetPipelineResponse> => {
          const team = await teamOf(req.params.team);
          const body = req.body as Partial<SetPipelineRequest> | undefined;
          if (typeof body?.source !== 'string')
            throw new HttpError(400, 'bad_request', 'body must have a "source" string');
          if (Buffer.byteLength(body.source) > deps.maxPipelineBytes) {
            throw new HttpError(413, 'too_large', `pipeline config exceeds ${deps.maxPipelineBytes} bytes`);
          }
          const saved = await savePipelineConfig(store, {
            teamId: team.id,
            name: req.params.pipeline,
            source: body.source,
            file: typeof body.file === 'string' && body.file ? body.file : 'pipeline.yml',
            ...(body.expectedVersion === undefined ? {} : { expectedVersion: body.expectedVersion }),
            createPaused: true,
            at: Date.now(),
          });
          if (!saved.ok) {
            const status = saved.reason === 'conflict' ? 409 : 400;
            throw new HttpError(
              status,
              saved.reason === 'conflict' ? 'conflict' : saved.reason,
              saved.message,
              saved.diagnostics.length ? saved.diagnostics : undefined,
            );
          }
          req.log.info(
            { team: team.name, pipeline: req.params.pipeline, version: saved.version },
            'pipeline saved',
          );
          const stored = await store.getPipeline(team.id, req.params.pipeline);
          if (stored) scheduler.request(stored.id);
          return { created: saved.created, version: saved.version, warnings: saved.warnings };
        },
      );

      api.get<{ Params: { team: string; pipeline: string } }>(
        '/teams/:team/pipelines/:pipeline/jobs',
        async (req): Promise<JobSummary[]> => {
          const pipeline = await pipelineOf(req.params.team, req.params.pipeline);
          const jobs = await store.listJobs(pipeline.id);
          return Promise.all(
            jobs.map(async (job) => {
              const [latest] = await store.listBuilds({ jobId: job.id, limit: 1 });
              return {
                name: job.name,
                pipeline: pipeline.name,
                team: req.params.team,
                paused: job.paused,
                latestBuild: latest ? summary(latest) : null,
              };
            }),
          );
        },
      );

      api.post<{ Params: { team: string; pipeline: string; job: string } }>(
        '/teams/:team/pipelines/:pipeline/jobs/:job/builds',
        async (req, reply): Promise<BuildSummary> => {
          const job = await jobOf(req.params.team, req.params.pipeline, req.params.job);
          const build = await scheduler.trigger(job);
          req.log.info({ buildId: build.id, job: job.name }, 'build triggered');
          void reply.code(201);
          return summary(build);
        },
      );

      api.get<{ Params: { team: string; pipeline: string; job: string }; Querystring: { limit?: string } }>(
        '/teams/:team/pipelines/:pipeline/jobs/:job/builds',
        async (req): Promise<BuildSummary[]> => {
          const job = await jobOf(req.params.team, req.params.pipeline, req.params.job);
          const builds = await store.listBuilds({ jobId: job.id, limit: limitOf(req.query.limit) });
          return builds.map(summary);
        },
      );

      api.get<{ Params: { team: string; pipeline: string; job: string; name: string } }>(
        '/teams/:team/pipelines/:pipeline/jobs/:job/builds/:name',
        async (req): Promise<BuildSummary> => {
          const job = await jobOf(req.params.team, req.params.pipeline, req.params.job);
          const build = await store.getBuildByName(job.id, req.params.name);
          if (!build) throw notFound(`build ${req.params.pipeline}/${req.params.job} #${req.params.name}`);
          return summary(build);
        },
      );

      api.get<{ Querystring: { team?: string; pipeline?: string; job?: string; limit?: string } }>(
        '/builds',
        async (req): Promise<BuildSummary[]> => {
          const q = req.query;
          const filter: Parameters<Store['listBuilds']>[0] = { limit: limitOf(q.limit), jobKind: 'job' };
          if (q.team || q.pipeline || q.job) {
            const team = await teamOf(q.team ?? 'main');
            filter.teamId = team.id;
            if (q.pipeline) {
              const pipeline = await pipelineOf(team.name, q.pipeline);
              filter.pipelineId = pipeline.id;
              if (q.job) filter.jobId = (await jobOf(team.name, pipeline.name, q.job)).id;
            }
          }
          return (await store.listBuilds(filter)).map(summary);
        },
      );

      api.get<{ Params: { id: string } }>('/builds/:id', async (req) =>
        summary(await buildOf(req.params.id)),
      );

      api.put<{ Params: { id: string } }>('/builds/:id/abort', async (req, reply) => {
        const build = await buildOf(req.params.id);
        await engine.abort(build.id);
        req.log.info({ buildId: build.id }, 'build abort requested');
        return reply.code(204).send();
      });

      api.get<{ Params: { id: string } }>('/builds/:id/events', async (req, reply) => {
        const build = await buildOf(req.params.id);
        const lastEventId = Number(req.headers['last-event-id'] ?? 0);
        reply.hijack();
        await streamBuildEvents(
          reply.raw,
          build.id,
          Number.isFinite(lastEventId) ? lastEventId : 0,
          store,
          deps.events,
        );
      });

      for (const [action, paused] of [
        ['pause', true],
        ['unpause', false],
      ] as const) {
        api.put<{ Params: { team: string; pipeline: string } }>(
          `/teams/:team/pipelines/:pipeline/${action}`,
          async (req, reply) => {
            const pipeline = await pipelineOf(req.params.team, req.params.pipeline);
            await store.setPipelinePaused(pipeline.id, paused, Date.now());
            req.log.info({ pipeline: pipeline.name }, `pipeline ${action}d`);
            scheduler.request(pipeline.id);
            return reply.code(204).send();
          },
        );
        api.put<{ Params: { team: string; pipeline: string; job: string } }>(
          `/teams/:team/pipelines/:pipeline/jobs/:job/${action}`,
          async (req, reply) => {
            const job = await jobOf(req.params.team, req.params.pipeline, req.params.job);
            await store.setJobPaused(job.id, paused);
            req.log.info({ job: job.name }, `job ${action}d`);
            scheduler.request(job.pipelineId);
            return reply.code(204).send();
          },
        );
      }

      registerResourceRoutes(api, {
        store,
        checker: deps.checker,
        configs: deps.configs,
        scheduler,
        pipelineOf,
        summary,
      });

      api.get('/agents', async (): Promise<AgentSummary[]> => {
        const live = new Map(dispatcher.connected().map((c) => [c.agentName, c]));
        return (await store.listAgents()).map((agent) => {
          const conn = live.get(agent.name);
          return {
            name: agent.name,
            cluster: agent.cluster,
            version: agent.version,
            state: conn ? (conn.draining ? 'draining' : 'connected') : 'disconnected',
            pools: agent.pools.map((p) => ({ ...p, inUse: dispatcher.inUse(agent.name, p.name) })),
            lastHeartbeatAt: agent.lastHeartbeatAt,
          };
        });
      });

      api.get('/agent-tokens', async (): Promise<AgentTokenSummary[]> => {
        const list = await store.listTokens('agent');
        return Promise.all(list.map(tokenSummary));
      });

      api.post<{ Body: CreateAgentTokenRequest }>(
        '/agent-tokens',
        async (req, reply): Promise<CreatedAgentToken> => {
          const body = req.body as Partial<CreateAgentTokenRequest> | undefined;
          if (typeof body?.name !== 'string' || !/^[\w.-]{1,64}$/.test(body.name)) {
            throw new HttpError(
              400,
              'bad_request',
              'token name must be 1-64 letters, digits, "_", "-" or "."',
            );
          }
          const team = body.team === undefined ? null : await teamOf(body.team);
          const { secret, token } = await tokens.create('agent', body.name, team?.id ?? null);
          req.log.info(
            { tokenId: token.id, name: token.name, team: team?.name ?? null },
            'agent token created',
          );
          void reply.code(201);
          return { ...(await tokenSummary(token)), token: secret };
        },
      );

      api.delete<{ Params: { id: string } }>('/agent-tokens/:id', async (req, reply) => {
        const id = Number(req.params.id);
        const existing = (await store.listTokens('agent')).find((t) => t.id === id);
        if (!existing || !(await store.revokeToken(id, Date.now())))
          throw notFound(`agent token ${req.params.id}`);
        req.log.info({ tokenId: id }, 'agent token revoked');
        return reply.code(204).send();
      });

      done();
    },
    { prefix: API_PREFIX },
  );

  async function teamOf(name: string): Promise<Team> {
    const team = await store.getTeam(name);
    if (!team) throw notFound(`team "${name}"`);
    return team;
  }

  async function pipelineOf(teamName: string, name: string) {
    const team = await teamOf(teamName);
    const pipeline = await store.getPipeline(team.id, name);
    if (!pipeline) throw notFound(`pipeline "${name}"`);
    return pipeline;
  }

  async function jobOf(teamName: string, pipelineName: string, name: string) {
    const pipeline = await pipelineOf(teamName, pipelineName);
    const job = await store.getJob(pipeline.id, name);
    if (!job?.active || job.kind !== 'job') throw notFound(`job "${pipelineName}/${name}"`);
    return job;
  }

  async function buildOf(idText: string): Promise<BuildView> {
    const id = Number(idText);
    const build = Number.isInteger(id) ? await store.getBuild(id) : undefined;
    if (!build) throw notFound(`build ${idText}`);
    return build;
  }

  function summary(build: BuildView): BuildSummary {
    const terminal = TERMINAL_BUILD_STATUSES.includes(build.status);
    return {
      id: build.id,
      team: build.teamName,
      pipeline: build.pipelineName,
      job: build.jobName,
      name: build.name,
      status: build.status,
      createdAt: build.createdAt,
      startedAt: build.startedAt,
      endedAt: build.endedAt,
      waitingReason: terminal
        ? null
        : build.status === 'pending' && !engine.isRunning(build.id)
          ? (build.pendingReason ?? 'waiting for the scheduler')
          : engine.waitingReason(build.id),
    };
  }

  async function tokenSummary(token: TokenRecord): Promise<AgentTokenSummary> {
    const team = token.teamId === null ? undefined : await store.getTeamById(token.teamId);
    return {
      id: token.id,
      name: token.name,
      team: team?.name ?? null,
      createdAt: token.createdAt,
      revokedAt: token.revokedAt,
      lastUsedAt: token.lastUsedAt,
    };
  }

  return app;
}

function limitOf(text: string | undefined): number {
  const n = Number(text ?? 50);
  return Number.isInteger(n) && n > 0 ? Math.min(n, 1000) : 50;
}
