// Probes for load balancers and Prometheus, outside the /api/v1 prefix. /healthz and /readyz are open;
// /readyz also asks the store a question, so a hub whose database does not answer (PostgreSQL down or
// unreachable) is taken out of the load balancer rather than failing every request behind it;
// /metrics needs the metrics token (`--metrics-token-file`) or an admin's API token, since its figures
// describe every team (open scraping goes through `--metrics-listen`, a listener of its own).
// Hub replicas on PostgreSQL are all ready once they serve (each answers the whole API); /readyz says
// which one leads (runs the scheduler, checker and builds).

import { createHash, timingSafeEqual } from 'node:crypto';
import { authenticator, requireCaller, unauthorized } from '../auth.js';
import { bearerSecret } from '../../auth/tokens.js';
import type { ApiContext } from '../context.js';
import { HttpError } from '../errors.js';
import { route, type Route } from '../route.js';

const digest = (secret: string) => createHash('sha256').update(secret, 'utf8').digest();

/** How long /readyz waits for the store's answer. */
const STORE_PROBE_MS = 2_000;

/** Why the store is not usable now (a query failed or took too long); undefined when it answered. */
async function storeTrouble(store: ApiContext['deps']['store']): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => {
    timer = setTimeout(
      () => resolve(`the database did not answer within ${STORE_PROBE_MS} ms`),
      STORE_PROBE_MS,
    );
  });
  const probe = store.getTeam('main').then(
    () => undefined,
    (err: unknown) => `the database failed a query: ${(err as Error).message}`,
  );
  try {
    return await Promise.race([probe, late]);
  } finally {
    clearTimeout(timer);
  }
}

export function healthRoutes({ deps }: ApiContext): Route[] {
  const authenticate = authenticator(deps.tokens, deps.store);
  const metricsToken = deps.metricsToken === undefined ? undefined : digest(deps.metricsToken);
  return [
    route({ method: 'GET', url: '/healthz', role: 'public', handler: () => ({ ok: true }) }),
    route({
      method: 'GET',
      url: '/readyz',
      role: 'public',
      handler: async (_input, _req, reply) => {
        if (!deps.ready()) return reply.code(503).send({ ready: false });
        const trouble = await storeTrouble(deps.store);
        if (trouble !== undefined) return reply.code(503).send({ ready: false, reason: trouble });
        // Replicas: every one serves; which one runs the singletons is for operators and tests to see.
        return deps.dispatcher.shared ? { ready: true, leading: deps.leader.isLeader } : { ready: true };
      },
    }),
    route({
      method: 'GET',
      url: '/metrics',
      role: 'public',
      handler: async (_input, req, reply) => {
        const secret = bearerSecret(req.headers.authorization);
        if (!secret) throw unauthorized();
        // Compared by digest: equal lengths for timingSafeEqual, and no early exit on the first byte.
        if (!metricsToken || !timingSafeEqual(digest(secret), metricsToken)) {
          await authenticate(req);
          if (!requireCaller(req).admin)
            throw new HttpError(403, 'forbidden', '/metrics needs the metrics token or an admin API token');
        }
        void reply.type(deps.metrics.registry.contentType);
        return deps.metrics.registry.metrics();
      },
    }),
  ];
}
