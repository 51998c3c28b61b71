// A login's end, the same for a password and an OpenID Connect login: the user must hold a role in the
// team they log in to (admins may pick any), and gets a short-lived token the CLI renews.

import type { FastifyRequest } from 'fastify';
import { isAdmin, rolesOfUser } from '../auth/caller.js';
import type { User } from '../store/store.js';
import type { ApiContext } from './context.js';
import { HttpError } from './errors.js';
import type { LoginResponse } from './types.js';

/** How long a login token lasts; the CLI renews it when half of that has passed. */
export const LOGIN_TOKEN_TTL_MS = 60 * 60 * 1000;

/** A login token for `user`, bound to `teamName` (null: a renewal keeps the old token's team). */
export async function issueLoginToken(
  ctx: ApiContext,
  user: User,
  team: { id: number; name: string } | null,
): Promise<LoginResponse> {
  const roles = await rolesOfUser(ctx.store, user);
  const expiresAt = Date.now() + LOGIN_TOKEN_TTL_MS;
  const { secret } = await ctx.deps.tokens.create('api', `login:${user.name}`, team?.id ?? null, {
    userId: user.id,
    expiresAt,
  });
  return {
    token: secret,
    expiresAt,
    user: user.name,
    teams: [...roles].map(([name, role]) => ({ team: name, role })),
  };
}

/**
 * Logs `user` in to `teamName`: 403 when they hold no role there. Without a team (the web UI's sign-in,
 * which like Concourse's asks for none), `main` when they hold a role there, else their first team by name.
 */
export async function logIn(
  ctx: ApiContext,
  req: FastifyRequest,
  user: User,
  requested: string | undefined,
): Promise<LoginResponse> {
  const roles = await rolesOfUser(ctx.store, user);
  const teamName = requested ?? (isAdmin(roles) || roles.has('main') ? 'main' : [...roles.keys()].sort()[0]);
  if (teamName === undefined)
    throw new HttpError(403, 'forbidden', `user "${user.name}" has no role in any team`);
  const team = await ctx.store.getTeam(teamName);
  if (!team || (!isAdmin(roles) && !roles.has(team.name)))
    throw new HttpError(403, 'forbidden', `user "${user.name}" has no role in team "${teamName}"`);
  req.log.info({ user: user.name, team: team.name, ip: req.ip }, 'login');
  return issueLoginToken(ctx, user, team);
}
