// A team's API tokens for automation: created by its owners with a role and an expiry, the secret shown
// once; listed and revoked. Revoking takes effect on the next request.

import { z } from 'zod';
import { ROLES, type TokenRecord } from '../../store/store.js';
import type { ApiContext } from '../context.js';
import { notFound } from '../errors.js';
import { id, name } from '../fields.js';
import { route, type Route } from '../route.js';
import type { ApiTokenSummary, CreatedApiToken, RotatedAdminToken } from '../types.js';

const MAX_EXPIRY_S = 366 * 24 * 3600;

const createBody = z.strictObject({
  name: z.string().regex(/^[\w.-]{1,64}$/, 'a token name is 1-64 letters, digits, "_", "-" or "."'),
  role: z.enum(ROLES),
  expiresIn: z.number().int().min(60).max(MAX_EXPIRY_S, `at most ${MAX_EXPIRY_S} seconds (a year)`),
});

export function apiTokenRoutes(ctx: ApiContext): Route[] {
  const { store, tokens } = ctx.deps;
  const summary = (team: string, t: TokenRecord): ApiTokenSummary => ({
    id: t.id,
    name: t.name,
    team,
    role: t.role ?? 'viewer',
    createdAt: t.createdAt,
    expiresAt: t.expiresAt,
    revokedAt: t.revokedAt,
    lastUsedAt: t.lastUsedAt,
  });
  /** The team's automation tokens: not agent tokens, not login tokens (those belong to a user). */
  const teamTokens = async (teamId: number) =>
    (await store.listTokens('api')).filter((t) => t.teamId === teamId && t.userId === null);

  return [
    // The admin token of the first start, replaced: the old one stops working at once, the new secret is
    // shown once (and written to DATA_DIR/admin-token, mode 0600).
    route({
      method: 'POST',
      url: '/admin-token/rotate',
      action: 'rotate-admin-token',
      role: 'admin',
      handler: async (_input, req): Promise<RotatedAdminToken> => {
        const { secret, file, revoked } = await ctx.deps.rotateAdminToken();
        req.log.info({ file, revoked }, 'admin token rotated');
        return { token: secret, file: file ?? null, revoked };
      },
    }),

    route({
      method: 'GET',
      url: '/teams/:team/api-tokens',
      role: 'owner',
      params: z.object({ team: name }),
      handler: async ({ params }): Promise<ApiTokenSummary[]> => {
        const team = await ctx.teamOf(params.team);
        return (await teamTokens(team.id)).map((t) => summary(team.name, t));
      },
    }),

    route({
      method: 'POST',
      url: '/teams/:team/api-tokens',
      action: 'create-api-token',
      role: 'owner',
      params: z.object({ team: name }),
      body: createBody,
      handler: async ({ params, body }, req, reply): Promise<CreatedApiToken> => {
        const team = await ctx.teamOf(params.team);
        const expiresAt = Date.now() + body.expiresIn * 1000;
        const { secret, token } = await tokens.create('api', body.name, team.id, {
          role: body.role,
          expiresAt,
        });
        req.log.info({ tokenId: token.id, team: team.name, role: body.role, expiresAt }, 'API token created');
        void reply.code(201);
        return { ...summary(team.name, token), token: secret };
      },
    }),

    route({
      method: 'DELETE',
      url: '/teams/:team/api-tokens/:id',
      action: 'revoke-api-token',
      role: 'owner',
      params: z.object({ team: name, id }),
      handler: async ({ params }, req, reply) => {
        const team = await ctx.teamOf(params.team);
        const token = (await teamTokens(team.id)).find((t) => t.id === params.id);
        if (!token || !(await store.revokeToken(token.id, Date.now())))
          throw notFound(`API token ${params.id}`);
        req.log.info({ tokenId: token.id, team: team.name }, 'API token revoked');
        return reply.code(204).send();
      },
    }),
  ];
}
