// Logging in: a local user's name and password for a short-lived token (the CLI renews it before it
// expires), and who the caller is.

import { z } from 'zod';
import { roleIn } from '../../auth/caller.js';
import { dummyHash, verifyPassword } from '../../auth/passwords.js';
import { requireCaller } from '../auth.js';
import type { ApiContext } from '../context.js';
import { HttpError } from '../errors.js';
import { name } from '../fields.js';
import { LoginGuard } from '../login-guard.js';
import { route, type Route } from '../route.js';
import { issueLoginToken, logIn } from '../login.js';
import type { LoginResponse, UserInfo } from '../types.js';

// Without a team the hub picks one of the user's (login.ts); the CLI always names its target's.
const loginBody = z.strictObject({ username: name, password: z.string().min(1), team: name.optional() });

export function authRoutes(ctx: ApiContext): Route[] {
  const { store } = ctx.deps;
  const guard = new LoginGuard();

  return [
    route({
      method: 'POST',
      url: '/auth/token',
      action: 'login',
      role: 'public',
      body: loginBody,
      handler: async ({ body }, req): Promise<LoginResponse> => {
        req.audit = { actor: body.username, team: body.team };
        guard.attempt(body.username, req.ip);
        const user = await store.users.get(body.username);
        // An unknown user (or one who logs in through OIDC, without a password) costs the same hash as
        // a wrong password: the answer time tells nothing.
        const ok = await verifyPassword(body.password, user?.passwordHash || (await dummyHash()));
        const denied = new HttpError(401, 'unauthorized', 'wrong username or password');
        if (!user || !ok) {
          req.log.warn({ user: body.username, ip: req.ip }, 'login failed');
          throw denied;
        }
        guard.succeeded(user.name, req.ip);
        return logIn(ctx, req, user, body.team);
      },
    }),

    route({
      method: 'POST',
      url: '/auth/renew',
      action: 'renew-login',
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
        const team = token.teamId === null ? undefined : await store.getTeamById(token.teamId);
        const next = await issueLoginToken(ctx, user, team ?? null);
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
