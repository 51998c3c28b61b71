// Agents as the hub sees them (connected, draining, pools in use) and the tokens they connect with.

import { z } from 'zod';
import type { ApiContext } from '../context.js';
import { HttpError, notFound } from '../errors.js';
import { id } from '../fields.js';
import { route, type Route } from '../route.js';
import { roleIn } from '../../auth/caller.js';
import { requireCaller } from '../auth.js';
import { storedQueue } from '../../replicas/waiting-reasons.js';
import type { AgentRecord } from '../../store/store.js';
import type { AgentSummary, AgentTokenSummary, CreatedAgentToken, QueuedStep } from '../types.js';

/** An agent name or its cluster's, as the gateway accepts them in a Hello. */
const agentPart = '[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}';
const nameList = z.array(z.string().regex(/^[\w.-]{1,64}$/, 'names are letters, digits, "_", "-" or "."'));

const createTokenBody = z
  .strictObject({
    name: z.string().regex(/^[\w.-]{1,64}$/, 'a token name is 1-64 letters, digits, "_", "-" or "."'),
    team: z.string().optional(),
    // What the agent may claim in its Hello (store AgentBounds); each absent field is unbounded.
    agent: z
      .string()
      .regex(new RegExp(`^${agentPart}/${agentPart}$`), 'an agent is CLUSTER/NAME')
      .optional(),
    agentPrefix: z
      .string()
      .regex(
        new RegExp(`^${agentPart}/[a-zA-Z0-9._-]{0,63}$`),
        'an agent prefix is CLUSTER/ and the start of a name',
      )
      .optional(),
    pools: nameList.optional(),
    platforms: z.array(z.enum(['linux', 'windows', 'darwin'])).optional(),
    tags: nameList.optional(),
    maxCapacity: z.int().min(1).max(100_000).optional(),
    // Optional, unlike an API token's: an agent fleet's token is rotated on its operator's schedule.
    expiresIn: z.int().min(60, 'at least 60 seconds').optional(),
    expiresAt: z.int().min(0).optional(),
  })
  .refine((b) => b.agent === undefined || b.agentPrefix === undefined, {
    error: 'give "agent" or "agentPrefix", not both',
    path: ['agentPrefix'],
  })
  .refine((b) => b.expiresIn === undefined || b.expiresAt === undefined, {
    error: 'give "expiresIn" or "expiresAt", not both',
    path: ['expiresAt'],
  });

/** A connected agent's row is touched every 10 s or heartbeat (gateway/session.ts); silent this long, it is gone. */
const SILENT_AGENT_MS = 60_000;

/**
 * Each agent's state and its pools' leases in use. A single hub knows them from its sessions. Replicas
 * each hold some agents' sessions: the store has every one (an agent's state is written by the replica
 * it is connected to, each live lease names its agent and pool), so every replica answers the same.
 */
async function agentUsage(ctx: ApiContext): Promise<{
  state: (agent: AgentRecord) => AgentSummary['state'];
  inUse: (agent: string, pool: string) => number;
}> {
  const { dispatcher, store } = ctx.deps;
  if (!dispatcher.shared) {
    const live = new Map(dispatcher.connected().map((c) => [c.agentName, c]));
    return {
      state: (agent) => {
        const conn = live.get(agent.name);
        return conn ? (conn.draining ? 'draining' : 'connected') : 'disconnected';
      },
      inUse: (agent, pool) => dispatcher.inUse(agent, pool),
    };
  }
  const leases = new Map<string, number>();
  for (const { run } of await store.replicaDispatch.held()) {
    const key = `${run.agentName}\0${run.pool}`;
    leases.set(key, (leases.get(key) ?? 0) + 1);
  }
  const now = Date.now();
  return {
    // A replica that died leaves its agents' rows as they were: silent for a minute is disconnected.
    state: (agent) =>
      agent.state !== 'disconnected' && now - (agent.lastHeartbeatAt ?? 0) > SILENT_AGENT_MS
        ? 'disconnected'
        : agent.state,
    inUse: (agent, pool) => leases.get(`${agent}\0${pool}`) ?? 0,
  };
}

export function agentRoutes(ctx: ApiContext): Route[] {
  const { store, dispatcher, tokens } = ctx.deps;
  return [
    route({
      method: 'GET',
      url: '/agents',
      role: 'authenticated',
      handler: async (): Promise<AgentSummary[]> => {
        const usage = await agentUsage(ctx);
        return (await store.listAgents()).map((agent) => ({
          name: agent.name,
          cluster: agent.cluster,
          version: agent.version,
          state: usage.state(agent),
          pools: agent.pools.map((p) => ({
            ...p,
            inUse: usage.inUse(agent.name, p.name),
            admission: p.admission ?? null,
          })),
          lastHeartbeatAt: agent.lastHeartbeatAt,
        }));
      },
    }),

    route({
      method: 'GET',
      url: '/queue',
      role: 'authenticated',
      // Only the steps of teams the caller may see: another team's pipeline names never leak.
      // Replicas: read from the store, so every replica lists the same steps and reasons at once.
      handler: async (_input, req): Promise<QueuedStep[]> => {
        const caller = requireCaller(req);
        const queued = dispatcher.shared ? await storedQueue(store) : dispatcher.queued();
        return queued
          .filter((q) => roleIn(caller, q.context.team))
          .map((q) => ({
            buildId: q.context.buildId,
            team: q.context.team,
            pipeline: q.context.pipeline,
            job: q.context.job,
            buildName: q.context.buildName,
            step: q.context.stepName,
            platform: q.platform,
            tags: q.tags,
            since: q.since,
            reason: q.reason ?? null,
          }));
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
        const { name, team: teamName, expiresIn, expiresAt: at, ...bounds } = body;
        const now = Date.now();
        if (at !== undefined && at <= now + 60_000)
          throw new HttpError(
            400,
            'bad_request',
            `expiresAt: ${new Date(at).toISOString()} is not at least a minute from now`,
          );
        const expiresAt = expiresIn !== undefined ? now + expiresIn * 1000 : (at ?? null);
        const team = teamName === undefined ? null : await ctx.teamOf(teamName);
        const { secret, token } = await tokens.create('agent', name, team?.id ?? null, {
          bounds: Object.keys(bounds).length > 0 ? bounds : null,
          expiresAt,
        });
        req.log.info(
          { tokenId: token.id, name: token.name, team: team?.name ?? null, bounds: token.bounds, expiresAt },
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
