// Agents as the hub sees them (connected, draining, pools in use) and the tokens they connect with.

import { z } from 'zod';
import type { ApiContext } from '../context.js';
import { notFound } from '../errors.js';
import { id } from '../fields.js';
import { route, type Route } from '../route.js';
import type { AgentSummary, AgentTokenSummary, CreatedAgentToken } from '../types.js';

const createTokenBody = z.strictObject({
  name: z.string().regex(/^[\w.-]{1,64}$/, 'a token name is 1-64 letters, digits, "_", "-" or "."'),
  team: z.string().optional(),
});

export function agentRoutes(ctx: ApiContext): Route[] {
  const { store, dispatcher, tokens } = ctx.deps;
  return [
    route({
      method: 'GET',
      url: '/agents',
      role: 'authenticated',
      handler: async (): Promise<AgentSummary[]> => {
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
      },
    }),

    route({
      method: 'GET',
      url: '/agent-tokens',
      role: 'admin',
      handler: async (): Promise<AgentTokenSummary[]> => {
        const list = await store.listTokens('agent');
        return Promise.all(list.map((t) => ctx.tokenSummary(t)));
      },
    }),

    route({
      method: 'POST',
      url: '/agent-tokens',
      action: 'create-agent-token',
      role: 'admin',
      body: createTokenBody,
      handler: async ({ body }, req, reply): Promise<CreatedAgentToken> => {
        const team = body.team === undefined ? null : await ctx.teamOf(body.team);
        const { secret, token } = await tokens.create('agent', body.name, team?.id ?? null);
        req.log.info(
          { tokenId: token.id, name: token.name, team: team?.name ?? null },
          'agent token created',
        );
        void reply.code(201);
        return { ...(await ctx.tokenSummary(token)), token: secret };
      },
    }),

    route({
      method: 'DELETE',
      url: '/agent-tokens/:id',
      action: 'revoke-agent-token',
      role: 'admin',
      params: z.object({ id }),
      handler: async ({ params }, req, reply) => {
        const existing = (await store.listTokens('agent')).find((t) => t.id === params.id);
        // Through the TokenService: the gateway hears of it and closes the token's live sessions.
        if (!existing || !(await tokens.revoke(existing))) throw notFound(`agent token ${params.id}`);
        req.log.info({ tokenId: params.id }, 'agent token revoked');
        return reply.code(204).send();
      },
    }),
  ];
}
