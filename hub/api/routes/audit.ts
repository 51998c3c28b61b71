// GET /audit: the audit log (hub/api/audit-log.ts), newest first. Admins read all of it; a team's owner
// reads the entries of the teams they own.

import { z } from 'zod';
import { roleIn } from '../../auth/caller.js';
import type { AuditFilter } from '../../store/store.js';
import { requireCaller } from '../auth.js';
import type { ApiContext } from '../context.js';
import { HttpError, notFound } from '../errors.js';
import { limit } from '../fields.js';
import { route, type Route } from '../route.js';
import type { AuditEntrySummary } from '../types.js';

const auditQuery = z.object({
  team: z.string().min(1).optional(),
  user: z.string().min(1).optional(),
  since: z
    .string()
    .regex(/^\d{1,15}$/, 'must be a time in Unix milliseconds, like 1767225600000')
    .transform(Number)
    .optional(),
  limit: limit(100),
});

export function auditRoutes(ctx: ApiContext): Route[] {
  return [
    route({
      method: 'GET',
      url: '/audit',
      role: 'authenticated',
      query: auditQuery,
      handler: async ({ query }, req): Promise<AuditEntrySummary[]> => {
        const caller = requireCaller(req);
        const filter: AuditFilter = { limit: query.limit };
        if (query.user) filter.actor = query.user;
        if (query.since !== undefined) filter.since = query.since;
        if (query.team) {
          const role = roleIn(caller, query.team);
          if (!role) throw notFound(`team "${query.team}"`);
          if (role !== 'owner')
            throw new HttpError(403, 'forbidden', `only owners of team "${query.team}" read its audit log`);
          filter.teams = [query.team];
        } else if (!caller.admin) {
          filter.teams = (await ctx.store.teams.list())
            .map((t) => t.name)
            .filter((t) => roleIn(caller, t) === 'owner');
          if (filter.teams.length === 0)
            throw new HttpError(403, 'forbidden', 'only admins and team owners read the audit log');
        }
        return (await ctx.store.auditLog.list(filter)).map((e) => ({
          id: e.id,
          at: e.at,
          user: e.actor,
          team: e.team,
          action: e.action,
          target: e.target,
          source: e.source,
          status: e.status,
        }));
      },
    }),
  ];
}
