// Logging in: a local user's name and password for a short-lived token (the CLI renews it before it
// expires), and who the caller is.

import { z } from 'zod';
import { roleIn } from '../../auth/caller.js';
import { dummyHash, verifyPassword } from '../../auth/passwords.js';
import { requireCaller } from '../auth.js';
import type { ApiContext } from '../context.js';
import { HttpError } from '../errors.js';
import { name } from '../fields.js';
import { RateLimit } from '../rate-limit.js';
import { route, type Route } from '../route.js';
import type { LoginResponse, TeamRole, UserInfo } from '../types.js';

/** How long a login token lasts; the CLI renews it when half of that has passed. */
export const LOGIN_TOKEN_TTL_MS = 60 * 60 * 1000;

const loginBody = z.strictObject({ username: name, password: z.string().min(1), team: name });

export function authRoutes(ctx: ApiContext): Route[] {
  const { store, tokens } = ctx.deps;
  const limit = new RateLimit(10, 60_000);

  const issue = async (userId: number, user: string, teamId: number | null): Promise<LoginResponse> => {
    const expiresAt = Date.now() + LOGIN_TOKEN_TTL_MS;
    const { secret } = await tokens.create('api', `login:${user}`, teamId, { userId, expiresAt });
    const teams: TeamRole[] = (await store.teams.rolesOf(userId)).map((m) => ({
      team: m.team.name,
      role: m.role,
    }));
    return { token: secret, expiresAt, user, teams };
  };

  return [
    route({
      method: 'POST',
      url: '/auth/token',
      role: 'public',
      body: loginBody,
      handler: async ({ body }, req): Promise<LoginResponse> => {
        limit.check(req.ip);
        const user = await store.users.get(body.username);
        // An unknown user costs the same hash as a wrong password: the answer time tells nothing.
        const ok = await verifyPassword(body.password, user?.passwordHash ?? (await dummyHash()));
        const denied = new HttpError(401, 'unauthorized', 'wrong username or password');
        if (!user || !ok) {
          limit.fail(req.ip);
          req.log.warn({ user: body.username, ip: req.ip }, 'login failed');
          throw denied;
        }
        const roles = await store.teams.rolesOf(user.id);
        const admin = roles.some((m) => m.team.name === 'main' && m.role === 'owner');
        const team = await store.getTeam(body.team);
        if (!team || (!admin && !roles.some((m) => m.team.id === team.id)))
          throw new HttpError(403, 'forbidden', `user "${user.name}" has no role in team "${body.team}"`);
        req.log.info({ user: user.name, team: team.name, ip: req.ip }, 'login');
        return issue(user.id, user.name, team.id);
      },
    }),

    route({
      method: 'POST',
      url: '/auth/renew',
      role: 'authenticated',
      handler: async (_input, req): Promise<LoginResponse> => {
        const { token } = requireCaller(req);
        if (token.userId === null)
          throw new HttpError(
            400,
            'bad_request',
            'only login tokens are renewed; API tokens keep their expiry',
          );
        const user = await store.users.getById(token.userId);
        if (!user) throw new HttpError(401, 'unauthorized', 'the user of this token no longer exists');
        const next = await issue(user.id, user.name, token.teamId);
        await store.revokeToken(token.id, Date.now());
        return next;
      },
    }),

    route({
      method: 'GET',
      url: '/user',
      role: 'authenticated',
      handler: (_input, req): UserInfo => {
        const caller = requireCaller(req);
        return {
          name: caller.name,
          admin: caller.admin,
          // An admin acts as owner everywhere (roleIn); a team's stored role is shown otherwise.
          teams: [...caller.roles].map(([team, role]) => ({ team, role: roleIn(caller, team) ?? role })),
          expiresAt: caller.token.expiresAt,
        };
      },
    }),
  ];
}
