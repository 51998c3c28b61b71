// Local users, managed by admins: list them with their roles, create one or set its password.

import { z } from 'zod';
import { rolesOfUser } from '../../auth/caller.js';
import { hashPassword } from '../../auth/passwords.js';
import type { ApiContext } from '../context.js';
import { route, type Route } from '../route.js';
import type { UserSummary } from '../types.js';

export const userName = z
  .string()
  .regex(/^[\w.@-]{1,64}$/, 'a user name is 1-64 letters, digits, "_", "-", "." or "@"');
/** Long enough that the rate limit on logins makes guessing hopeless; anything printable goes. */
export const password = z.string().min(12, 'a password has at least 12 characters').max(1024);

export function userRoutes(ctx: ApiContext): Route[] {
  const { store } = ctx.deps;
  return [
    route({
      method: 'GET',
      url: '/users',
      role: 'admin',
      handler: async (): Promise<UserSummary[]> =>
        Promise.all(
          (await store.users.list()).map(async (u) => ({
            name: u.name,
            createdAt: u.createdAt,
            teams: [...(await rolesOfUser(store, u))].map(([team, role]) => ({ team, role })),
          })),
        ),
    }),

    route({
      method: 'PUT',
      url: '/users/:user',
      action: 'set-user',
      role: 'admin',
      params: z.object({ user: userName }),
      body: z.strictObject({ password }),
      handler: async ({ params, body }, req, reply) => {
        const hash = await hashPassword(body.password);
        const existing = await store.users.get(params.user);
        if (existing) await store.users.setPassword(existing.id, hash);
        else await store.users.create({ name: params.user, passwordHash: hash, createdAt: Date.now() });
        req.log.info(
          { user: params.user, created: !existing },
          existing ? 'user password set' : 'user created',
        );
        return reply.code(existing ? 204 : 201).send();
      },
    }),
  ];
}
