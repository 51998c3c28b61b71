// Teams: list the ones the caller may see, show one with its members, and (admins) set, rename and
// destroy them. `main` is the admin team: it cannot be renamed or destroyed.

import { z } from 'zod';
import { ADMIN_TEAM, roleIn } from '../../auth/caller.js';
import { ROLES } from '../../store/store.js';
import { requireCaller } from '../auth.js';
import type { ApiContext } from '../context.js';
import { HttpError } from '../errors.js';
import { route, type Route } from '../route.js';
import type { SetTeamResponse, TeamSummary } from '../types.js';

/** A team name: what a url segment and a CLI flag can carry without quoting. */
export const teamName = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9_-]{0,62}$/,
    'a team name is 1-63 lowercase letters, digits, "_" or "-", starting with a letter or digit',
  );

const teamParams = z.object({ team: z.string().min(1) });

const setTeamBody = z.strictObject({
  members: z.array(z.strictObject({ user: z.string().min(1), role: z.enum(ROLES) })),
  oidc: z
    .array(z.strictObject({ kind: z.enum(['group', 'user']), name: z.string().min(1), role: z.enum(ROLES) }))
    .default([]),
});

export function teamRoutes(ctx: ApiContext): Route[] {
  const { store } = ctx.deps;
  const notMain = (team: string, action: string) => {
    if (team === ADMIN_TEAM)
      throw new HttpError(409, 'conflict', `team "${ADMIN_TEAM}" is the admin team and cannot be ${action}`);
  };

  return [
    // The teams the caller has a role in, and those with an exposed pipeline (all a caller without a
    // login sees), so a dashboard can list what it may show.
    route({
      method: 'GET',
      url: '/teams',
      role: 'anyone',
      handler: async (_input, req): Promise<TeamSummary[]> => {
        const teams: TeamSummary[] = [];
        for (const t of await store.teams.list())
          if ((req.caller && roleIn(req.caller, t.name)) || (await ctx.teamExposes(t.name)))
            teams.push({ name: t.name });
        return teams;
      },
    }),

    route({
      method: 'GET',
      url: '/teams/:team',
      role: 'viewer',
      params: teamParams,
      handler: async ({ params }, req): Promise<TeamSummary> => {
        const team = await ctx.teamOf(params.team);
        if (roleIn(requireCaller(req), team.name) !== 'owner') return { name: team.name };
        const members = await store.teams.members(team.id);
        const oidc = await store.teams.oidcRoles(team.id);
        return {
          name: team.name,
          members: members.map((m) => ({ user: m.user, role: m.role })),
          oidc: oidc.map((r) => ({ kind: r.kind, name: r.name, role: r.role })),
        };
      },
    }),

    route({
      method: 'PUT',
      url: '/teams/:team',
      action: 'set-team',
      role: 'admin',
      params: z.object({ team: teamName }),
      body: setTeamBody,
      handler: async ({ params, body }, req, reply): Promise<SetTeamResponse> => {
        const members = await Promise.all(
          body.members.map(async (m) => {
            const user = await store.users.get(m.user);
            if (!user)
              throw new HttpError(
                400,
                'bad_request',
                `no local user "${m.user}" (create it with \`outpost set-user\`)`,
              );
            return { userId: user.id, role: m.role };
          }),
        );
        const existing = await store.getTeam(params.team);
        const team = existing ?? (await store.teams.create(params.team));
        await store.teams.setMembers(team.id, members);
        await store.teams.setOidcRoles(team.id, body.oidc);
        req.log.info(
          { team: team.name, members: body.members, oidc: body.oidc, created: !existing },
          'team set',
        );
        void reply.code(existing ? 200 : 201);
        return { created: !existing };
      },
    }),

    route({
      method: 'PUT',
      url: '/teams/:team/rename',
      action: 'rename-team',
      role: 'admin',
      params: teamParams,
      body: z.strictObject({ name: teamName }),
      handler: async ({ params, body }, req, reply) => {
        notMain(params.team, 'renamed');
        const team = await ctx.teamOf(params.team);
        await store.teams.rename(team.id, body.name);
        req.log.info({ team: params.team, to: body.name }, 'team renamed');
        return reply.code(204).send();
      },
    }),

    route({
      method: 'DELETE',
      url: '/teams/:team',
      action: 'destroy-team',
      role: 'admin',
      params: teamParams,
      handler: async ({ params }, req, reply) => {
        notMain(params.team, 'destroyed');
        const team = await ctx.teamOf(params.team);
        await store.teams.destroy(team.id);
        req.log.info({ team: team.name }, 'team destroyed');
        return reply.code(204).send();
      },
    }),
  ];
}
