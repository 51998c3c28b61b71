// Logging in through an OpenID Connect provider (hub/auth/oidc.ts). The login route sends the browser to
// the provider, with a cookie that binds the login to that browser; the callback checks the cookie,
// exchanges the code, records the user and answers with the same login token as a password login: in
// the URL fragment of the web UI's /login/callback, or in the query of the CLI's loopback listener.

import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { OIDC_USER_PREFIX } from '../../auth/caller.js';
import { isLoopback, type OidcLoginContext } from '../../auth/oidc.js';
import { API_PREFIX } from '../types.js';
import type { ApiContext } from '../context.js';
import { HttpError } from '../errors.js';
import { name } from '../fields.js';
import { logIn } from '../login.js';
import { RateLimit } from '../rate-limit.js';
import { route, type Route } from '../route.js';
import type { LoginResponse } from '../types.js';

export const OIDC_CALLBACK_PATH = `${API_PREFIX}/auth/oidc/callback`;
const COOKIE = 'outpost_oidc_state';
const COOKIE_PATH = `${API_PREFIX}/auth/oidc`;

/** A path on this hub: `/` then anything but a second `/` or `\` (`//evil.example` is another host). */
const hubPath = z
  .string()
  .regex(/^\/(?![/\\])[^\\\s]*$/, 'must be a path on this hub, like /teams/main')
  .default('/');

/** The CLI's listener: plain HTTP to this machine's loopback address, on any port. */
const loopbackUrl = z.string().refine((value) => {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' && isLoopback(url) && url.port !== '' && !url.username;
  } catch {
    return false;
  }
}, 'must be http://127.0.0.1:PORT/... (the CLI listens on this machine only)');

const loginQuery = z.object({
  team: name.default('main'),
  redirect: hubPath,
  cli_redirect: loopbackUrl.optional(),
});
const callbackQuery = z.object({
  state: z.string().optional(),
  error: z.string().optional(),
  error_description: z.string().optional(),
});

export function oidcRoutes(ctx: ApiContext): Route[] {
  const { store } = ctx.deps;
  // Failed callbacks per address, as failed password logins are limited.
  const limit = new RateLimit(10, 60_000);
  const provider = () => {
    if (!ctx.deps.oidc)
      throw new HttpError(404, 'not_found', 'this hub has no OpenID Connect login (see docs/security.md)');
    return ctx.deps.oidc;
  };
  const secureCookie = () => ctx.deps.externalUrl().startsWith('https:');

  return [
    route({
      method: 'GET',
      url: '/auth/oidc/login',
      role: 'public',
      query: loginQuery,
      handler: async ({ query }, _req, reply) => {
        const { url, state } = await provider().start({
          team: query.team,
          redirect: query.redirect,
          cliRedirect: query.cli_redirect,
        });
        const attrs = [`Path=${COOKIE_PATH}`, 'HttpOnly', 'SameSite=Lax', 'Max-Age=600'];
        if (secureCookie()) attrs.push('Secure');
        return reply.header('set-cookie', [`${COOKIE}=${state}`, ...attrs].join('; ')).redirect(url, 302);
      },
    }),

    route({
      method: 'GET',
      url: '/auth/oidc/callback',
      role: 'public',
      action: 'login',
      query: callbackQuery,
      handler: async ({ query }, req, reply) => {
        limit.check(req.ip);
        const login = query.state ? await provider().take(query.state) : undefined;
        if (!login) {
          limit.fail(req.ip);
          throw new HttpError(
            400,
            'bad_request',
            'unknown or expired login (it lasts 10 minutes); log in again',
          );
        }
        req.audit.team = login.team;
        void reply.header('set-cookie', `${COOKIE}=; Path=${COOKIE_PATH}; HttpOnly; SameSite=Lax; Max-Age=0`);
        let location: string;
        try {
          if (cookie(req, COOKIE) !== query.state)
            throw new HttpError(
              400,
              'bad_request',
              'this login was started in another browser; log in again',
            );
          if (query.error)
            throw new HttpError(
              401,
              'unauthorized',
              `the provider refused the login: ${query.error_description ?? query.error}`,
            );
          const callbackUrl = new URL(ctx.deps.externalUrl() + OIDC_CALLBACK_PATH);
          callbackUrl.search = new URLSearchParams(req.query as Record<string, string>).toString();
          const identity = await login.finish(callbackUrl).catch((err: unknown) => {
            throw new HttpError(401, 'unauthorized', `OIDC login failed: ${(err as Error).message}`);
          });
          const user = await store.users.upsertOidc({
            subject: identity.subject,
            name: OIDC_USER_PREFIX + identity.username,
            groups: identity.groups,
            at: Date.now(),
          });
          req.audit.actor = user.name;
          location = answer(login, await logIn(ctx, req, user, login.team));
        } catch (err) {
          limit.fail(req.ip);
          // The CLI waits on its listener: it is told why, rather than left waiting.
          if (!(login.cliRedirect && err instanceof HttpError)) throw err;
          req.audit.status = err.statusCode;
          location = withQuery(login.cliRedirect, { error: err.message });
        }
        return reply.redirect(location, 302);
      },
    }),
  ];
}

/** Where the token goes: the CLI's listener in its query, the web UI in a fragment (never sent to a server). */
function answer(login: OidcLoginContext, token: LoginResponse): string {
  const fields = { token: token.token, expiresAt: String(token.expiresAt) };
  if (login.cliRedirect) return withQuery(login.cliRedirect, fields);
  const fragment = new URLSearchParams({ ...fields, redirect: login.redirect });
  return `/login/callback#${fragment.toString()}`;
}

function withQuery(base: string, fields: Record<string, string>): string {
  const url = new URL(base);
  for (const [key, value] of Object.entries(fields)) url.searchParams.set(key, value);
  return url.href;
}

function cookie(req: FastifyRequest, key: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === key) return part.slice(at + 1).trim();
  }
  return undefined;
}
