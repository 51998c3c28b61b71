// Unauthenticated probes for load balancers and Prometheus, outside the /api/v1 prefix.

import type { ApiContext } from '../context.js';
import { route, type Route } from '../route.js';

export function healthRoutes({ deps }: ApiContext): Route[] {
  return [
    route({ method: 'GET', url: '/healthz', role: 'public', handler: () => ({ ok: true }) }),
    route({
      method: 'GET',
      url: '/readyz',
      role: 'public',
      handler: (_input, _req, reply) =>
        deps.ready() ? { ready: true } : reply.code(503).send({ ready: false }),
    }),
    route({
      method: 'GET',
      url: '/metrics',
      role: 'public',
      handler: async (_input, _req, reply) => {
        void reply.type(deps.metrics.registry.contentType);
        return deps.metrics.registry.metrics();
      },
    }),
  ];
}
