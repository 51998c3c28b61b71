// One API route as data: its method, path, the role it needs, and the schemas its params, query and body
// must match. The handler runs only with parsed input, so a value of the wrong type is a 400 naming the
// field, never a surprise deep in a store call. Every route is declared through `route()`, and `role` is
// required, so a route without one fails to type-check.

import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { atLeast, roleIn } from '../auth/caller.js';
import type { Role } from '../store/store.js';
import { unauthorized } from './auth.js';
import { HttpError, notFound } from './errors.js';
import { addressPipeline } from './pipeline-address.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/**
 * Who may call a route. `public`: anyone (health, the webhook, which checks its own token, the login);
 * `anyone`: anyone too, but a caller who sends a token is authenticated (a bad one is a 401) and may be
 * shown more; `authenticated`: any logged-in caller, and the handler shows only teams the caller may
 * see; `admin`: an owner of `main`; a Role: at least that role in the route's team (the url's `:team`,
 * or `team()`). A caller with no role in that team gets "not found", so another team's names never leak.
 */
export type RouteRole = 'public' | 'anyone' | 'authenticated' | 'admin' | Role;

/** Roles that are not a team's: the route's handler decides what the caller sees. */
const NOT_TEAM_ROLES: readonly RouteRole[] = ['public', 'anyone', 'authenticated', 'admin'];

/** The team an object named by the path belongs to, and what to call it in a "not found". */
export interface TeamOwner {
  team: string;
  what: string;
}

type Fields = z.ZodObject;
const NONE = z.object({});
type None = typeof NONE;

export interface Parsed<P extends Fields, Q extends Fields, B extends z.ZodType> {
  params: z.output<P>;
  query: z.output<Q>;
  body: z.output<B>;
}

export interface RouteSpec<P extends Fields, Q extends Fields, B extends z.ZodType> {
  method: Method;
  /** Relative to the group's prefix; `:name` segments must match `params`' keys exactly. */
  url: string;
  role: RouteRole;
  /**
   * What the audit log calls a call of this route (`trigger-job`). Required for every method but GET:
   * each state-changing request is recorded. A GET with an action is recorded too (the OIDC callback).
   */
  action?: string;
  /** For a team role on a url without `:team`: the team of the object the path names (404 when absent). */
  team?: (params: z.output<P>) => Promise<TeamOwner>;
  /**
   * For a read with a team role: true when what the path names belongs to an exposed pipeline, which
   * any caller may read, logged in or not (`expose-pipeline`).
   */
  exposed?: (params: z.output<P>) => Promise<boolean>;
  /** Required when the url has `:name` segments. */
  params?: P;
  /** Unknown query keys are ignored; known ones must match (a repeated key is an array, not a string). */
  query?: Q;
  /** Routes without a body schema ignore any body. */
  body?: B;
  handler: (input: Parsed<P, Q, B>, req: FastifyRequest, reply: FastifyReply) => unknown;
}

/** A declared route with its types erased, ready to register. */
export interface Route {
  method: Method;
  url: string;
  role: RouteRole;
  action: string | undefined;
  /** How the server authenticates a caller before `handle`: always, only when a token is sent, never. */
  authentication: 'required' | 'optional' | 'none';
  handle(req: FastifyRequest, reply: FastifyReply): unknown;
}

export function route<P extends Fields = None, Q extends Fields = None, B extends z.ZodType = z.ZodUndefined>(
  spec: RouteSpec<P, Q, B>,
): Route {
  const named = [...spec.url.matchAll(/:(\w+)/g)].map((m) => m[1]).sort();
  const declared = Object.keys(spec.params?.shape ?? {}).sort();
  if (named.join() !== declared.join())
    throw new Error(
      `route ${spec.method} ${spec.url}: the url names [${named.join()}], the params schema declares [${declared.join()}]`,
    );
  const teamRole = !NOT_TEAM_ROLES.includes(spec.role);
  if (teamRole && !named.includes('team') && !spec.team)
    throw new Error(
      `route ${spec.method} ${spec.url}: role "${spec.role}" needs a team: a :team in the url, or team()`,
    );
  if (spec.method !== 'GET' && !spec.action)
    throw new Error(
      `route ${spec.method} ${spec.url}: a state-changing route needs an action for the audit log`,
    );
  if (spec.exposed && (spec.method !== 'GET' || !teamRole))
    throw new Error(`route ${spec.method} ${spec.url}: only a team's reads can be exposed`);
  const params = spec.params ?? NONE;
  const query = spec.query ?? NONE;
  return {
    method: spec.method,
    url: spec.url,
    role: spec.role,
    action: spec.action,
    authentication:
      spec.role === 'public' ? 'none' : spec.role === 'anyone' || spec.exposed ? 'optional' : 'required',
    async handle(req, reply) {
      // An instance of a pipeline is named by the path and the `vars` query together (pipeline-address.ts).
      const parsedParams = addressPipeline(parse('path', params, req.params) as z.output<P>, req.query);
      // Authorized before the query and body are read: another team's caller learns nothing from a 400.
      if (teamRole) {
        const owner = spec.team
          ? await spec.team(parsedParams).catch((err: unknown) => {
              // Without a login (an exposable read), "not found" would tell which ids exist.
              throw req.caller ? err : unauthorized();
            })
          : { team: String((parsedParams as Record<string, unknown>).team), what: '' };
        req.audit.team = owner.team;
        const have = req.caller && roleIn(req.caller, owner.team);
        if (!(have && atLeast(have, spec.role as Role)) && !(await spec.exposed?.(parsedParams)))
          authorize(req, spec.role as Role, owner);
      } else if (spec.role === 'admin' && !req.caller?.admin) {
        throw new HttpError(403, 'forbidden', 'only admins (owners of team "main") may do this');
      }
      const input = {
        params: parsedParams,
        // Most routes take no query: its schema would only strip every key, so no parse per call.
        query: query === NONE ? {} : parse('query', query, req.query),
        body: spec.body ? parse('body', spec.body, jsonBody(req)) : undefined,
      } as Parsed<P, Q, B>;
      return spec.handler(input, req, reply);
    },
  };
}

/**
 * 401 without a login (a read that could have been exposed lets anonymous callers this far), 404 where
 * the caller has no role in the team (as for a team that does not exist), 403 below `need`.
 */
function authorize(req: FastifyRequest, need: Role, owner: TeamOwner): void {
  const caller = req.caller;
  if (!caller) throw unauthorized();
  const have = roleIn(caller, owner.team);
  if (!have) throw notFound(owner.what || `team "${owner.team}"`);
  if (!atLeast(have, need))
    throw new HttpError(
      403,
      'forbidden',
      `your role in team "${owner.team}" is ${have}; this needs ${need} or higher`,
    );
}

/**
 * The body of a route that takes JSON: a body of another type (an archive, a form, text) is a 415
 * naming the type, rather than a 400 about fields of something that was never JSON.
 */
function jsonBody(req: FastifyRequest): unknown {
  const type = req.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
  if (req.body === undefined || type === 'application/json') return req.body;
  const sent = type ? `Content-Type "${type}"` : 'no Content-Type';
  throw new HttpError(
    415,
    'unsupported_media_type',
    `this route takes a JSON body (Content-Type: application/json), not ${sent}`,
  );
}

/** How a message names a field of each part of the request. */
const PART = {
  path: { whole: 'path', field: 'path parameter' },
  query: { whole: 'query', field: 'query parameter' },
  body: { whole: 'body', field: 'body field' },
} as const;

function parse<S extends z.ZodType>(part: keyof typeof PART, schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  // The input is never echoed: it may be large, or a secret (a webhook token).
  const problems = result.error.issues.map((issue) => {
    const message = issue.message.replace(/^Invalid input: /, '');
    return issue.path.length === 0
      ? `${PART[part].whole}: ${message}`
      : `${PART[part].field} "${issue.path.join('.')}": ${message}`;
  });
  throw new HttpError(400, 'bad_request', problems.join('; '));
}
