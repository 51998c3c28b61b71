// The hub's HTTP API (routes listed in ./types.ts): a Fastify server that registers the route modules
// of ./routes, answers every failure through the one error table (./errors.ts), and records the routes
// it serves, so tests can hold every route to the same rules.

import Fastify, { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import { auditLogHooks } from './audit-log.js';
import { authenticator } from './auth.js';
import { ApiContext, type ApiDeps } from './context.js';
import { HttpError, toApiError } from './errors.js';
import { MAX_NAME_LENGTH } from '../pipeline/names.js';
import type { Method, Route } from './route.js';
import { agentRoutes } from './routes/agents.js';
import { apiTokenRoutes } from './routes/api-tokens.js';
import { auditRoutes } from './routes/audit.js';
import { authRoutes } from './routes/auth.js';
import { buildLogRoutes } from './routes/build-logs.js';
import { buildRoutes } from './routes/builds.js';
import { healthRoutes } from './routes/health.js';
import { openIdRoutes } from './routes/openid.js';
import { infoRoutes } from './routes/info.js';
import { jobActionRoutes } from './routes/job-actions.js';
import { jobRoutes } from './routes/jobs.js';
import { oidcRoutes } from './routes/oidc.js';
import { pipelineLifecycleRoutes } from './routes/pipeline-lifecycle.js';
import { containerRoutes } from './routes/containers.js';
import { interceptRoutes } from './routes/intercept.js';
import { oneOffRoutes } from './routes/one-off.js';
import { pipelineRoutes } from './routes/pipelines.js';
import { resourceClearingRoutes } from './routes/resource-clearing.js';
import { resourceRoutes } from './routes/resources.js';
import { teamRoutes } from './routes/teams.js';
import { userRoutes } from './routes/users.js';
import { webRoutes } from './routes/web.js';
import { webhookRoutes } from './routes/webhooks.js';
import { API_PREFIX } from './types.js';

export type { ApiDeps } from './context.js';

/** A route as the server registered it (HEAD routes Fastify adds for GETs are left out). */
export interface ServedRoute {
  method: Method;
  url: string;
}

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'cache-control': 'no-store',
} as const;
const SECURITY_HEADER_ENTRIES = Object.entries(SECURITY_HEADERS);

/** The router's own refusals, as the API says them. */
function routerError(err: { code?: string }): HttpError {
  if (err.code === 'FST_ERR_MAX_PARAM_LENGTH')
    return new HttpError(
      414,
      'name_too_long',
      `a name in the path is longer than ${MAX_NAME_LENGTH} characters`,
    );
  return new HttpError(
    400,
    'bad_url',
    'the path is not a valid URL: each "%" must start an escape of two hex digits, like %2F',
  );
}

export function buildApi(deps: ApiDeps) {
  const app = Fastify({
    loggerInstance: deps.log,
    bodyLimit: deps.maxPipelineBytes + 64 * 1024,
    // Requests are logged where they change something, with the fields that matter.
    logController: new LogController({ disableRequestLogging: true }),
    // SSE streams never end on their own; closing the hub must not wait for watchers to leave.
    forceCloseConnections: true,
    // Every name the hub accepts must be reachable by its routes (Fastify's default cut is 100).
    routerOptions: { maxParamLength: MAX_NAME_LENGTH },
    // A path the router cannot read is answered like any other failure: JSON in the API's shape,
    // without echoing the path back.
    frameworkErrors: (err, _req, reply) => {
      const { status, body } = toApiError(routerError(err));
      // No route, so no onSend hook: the headers every answer carries are set here.
      void (reply as FastifyReply).code(status).headers(SECURITY_HEADERS).send(body);
    },
  });
  app.decorateRequest('caller', undefined);
  // Archives (one-off build inputs) are streamed to the artifact store, never buffered: the route
  // reads the request itself, and the artifact store enforces its size limit.
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));
  // Any other type is read (within the body limit) and left to the route: one without a body schema
  // ignores it (a resource webhook takes whatever its sender posts, a form from GitHub's default
  // settings included); one with a schema answers 415 naming the type (route.ts).
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  const routes: ServedRoute[] = [];
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat())
      if (method !== 'HEAD') routes.push({ method: method as Method, url: r.url });
  });

  // API answers are JSON for programs: never sniffed, framed, cached or sent a referrer. A route that
  // sets one of these itself (the web UI's pages and their cache policy) keeps its own.
  // An answer leaves only once what it was read from is committed (a read sees writes still in SQLite's
  // commit batch: Store.uncommitted), so no caller is shown a build a crash would then take back.
  // A callback hook, not an async one: no promise per answer between the handler and the socket write.
  app.addHook('onSend', (_req, reply, payload, done) => {
    for (const [name, value] of SECURITY_HEADER_ENTRIES)
      if (!reply.hasHeader(name)) void reply.header(name, value);
    if (!deps.store.uncommitted()) return done(null, payload);
    deps.store.durable().then(
      () => done(null, payload),
      (err: unknown) => done(err as Error),
    );
  });

  app.setErrorHandler((err: unknown, req, reply) => {
    const answer = toApiError(err);
    if (answer.internal) req.log.error({ err }, 'request failed');
    return reply.code(answer.status).send(answer.body);
  });
  app.setNotFoundHandler((req) => {
    throw new HttpError(404, 'not_found', `no route ${req.method} ${req.url.split('?')[0]}`);
  });

  app.decorateRequest('audit', undefined as unknown as FastifyRequest['audit']);
  const audit = auditLogHooks(deps.store);
  app.addHook('onRequest', audit.start);
  app.addHook('onResponse', audit.record);
  const ctx = new ApiContext(deps);
  const authenticate = authenticator(deps.tokens, deps.store);
  // `authenticate` runs before a non-public route's input is parsed: a caller without a token learns
  // nothing about what it sent. Where a login is optional, only a token that is sent is checked.
  const onRequest = {
    required: async (req: FastifyRequest) => authenticate(req),
    optional: async (req: FastifyRequest) => {
      if (req.headers.authorization !== undefined) await authenticate(req);
    },
  };
  const serve = (prefix: string, routes: readonly Route[]) => {
    for (const r of routes)
      app.route({
        method: r.method,
        url: prefix + r.url,
        config: { action: r.action },
        ...(r.authentication === 'none' ? {} : { onRequest: onRequest[r.authentication] }),
        handler: (req, reply) => r.handle(req, reply),
      });
  };
  serve('', [...healthRoutes(ctx), ...openIdRoutes(ctx)]);
  serve(API_PREFIX, [
    ...infoRoutes(ctx),
    ...authRoutes(ctx),
    ...oidcRoutes(ctx),
    ...auditRoutes(ctx),
    ...teamRoutes(ctx),
    ...userRoutes(ctx),
    ...apiTokenRoutes(ctx),
    ...pipelineRoutes(ctx),
    ...pipelineLifecycleRoutes(ctx),
    ...jobRoutes(ctx),
    ...jobActionRoutes(ctx),
    ...buildRoutes(ctx),
    ...buildLogRoutes(ctx),
    ...oneOffRoutes(ctx),
    ...interceptRoutes(ctx),
    ...containerRoutes(ctx),
    ...resourceRoutes(ctx),
    ...resourceClearingRoutes(ctx),
    ...webhookRoutes(ctx),
    ...agentRoutes(ctx),
  ]);
  // Last, and only for paths the API does not claim: Fastify's router prefers static routes to `/*`.
  serve('', webRoutes(ctx));

  return { app, routes: routes as readonly ServedRoute[] };
}
