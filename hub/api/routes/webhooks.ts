// POST .../resources/:resource/check/webhook?webhook_token=TOKEN: a check, authorized by the resource's
// `webhook_token` alone (no API token), so what it reveals is the same for every failure, and on
// success only the check build's id and status.

import { timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { ApiContext } from '../context.js';
import { HttpError } from '../errors.js';
import { resourceParams } from '../fields.js';
import { route, type Route } from '../route.js';
import { resourceOf, startCheck } from './resources.js';

export function webhookRoutes(ctx: ApiContext): Route[] {
  return [
    route({
      method: 'POST',
      url: '/teams/:team/pipelines/:pipeline/resources/:resource/check/webhook',
      action: 'check-resource-webhook',
      role: 'public',
      params: resourceParams,
      query: z.object({ webhook_token: z.string().default('') }),
      handler: async ({ params, query }, _req, reply) => {
        const denied = new HttpError(401, 'unauthorized', 'missing or wrong webhook_token');
        const { pipeline, resource } = await resourceOf(ctx, params).catch(() => {
          // Unknown pipelines and resources look like a wrong token: the route is public.
          throw denied;
        });
        const expected = resource.webhook_token;
        const given = query.webhook_token;
        if (
          expected === undefined ||
          Buffer.byteLength(given) !== Buffer.byteLength(expected) ||
          !timingSafeEqual(Buffer.from(given), Buffer.from(expected))
        )
          throw denied;
        const build = await startCheck(ctx, reply, {
          pipeline,
          scope: 'resource',
          name: resource.name,
          logMessage: 'webhook check',
        });
        // The caller holds a webhook token, not a login: it learns the check's id and no team's names.
        return { id: build.id, status: build.status };
      },
    }),
  ];
}
