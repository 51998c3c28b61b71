// One API route as data: its method, path, who may call it, and the schemas its params, query and body
// must match. The handler runs only with parsed input, so a value of the wrong type is a 400 naming the
// field, never a surprise deep in a store call. Adding a per-route field (such as a role) is adding it
// here: every route is declared through `route()`, so one left without it fails to type-check.

import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { HttpError } from './errors.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** `public`: anyone (health, metrics, the webhook, which checks its own token); `token`: an API token. */
export type Access = 'public' | 'token';

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
  access: Access;
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
  access: Access;
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
  const params = spec.params ?? NONE;
  const query = spec.query ?? NONE;
  return {
    method: spec.method,
    url: spec.url,
    access: spec.access,
    handle(req, reply) {
      const input = {
        params: parse('path', params, req.params),
        query: parse('query', query, req.query),
        body: spec.body ? parse('body', spec.body, req.body) : undefined,
      } as Parsed<P, Q, B>;
      return spec.handler(input, req, reply);
    },
  };
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
