// Who is calling: the API token in `Authorization: Bearer`, checked before every route that is not
// public, and the roles it carries (hub/auth/caller.ts).

import type { FastifyRequest } from 'fastify';
import { callerOf, type Caller } from '../auth/caller.js';
import { bearerSecret, type TokenService } from '../auth/tokens.js';
import type { Store } from '../store/store.js';
import { HttpError } from './errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller | undefined;
  }
}

export function unauthorized(): HttpError {
  return new HttpError(401, 'unauthorized', 'missing, unknown or revoked API token (run `outpost login`)');
}

/** Sets `req.caller`, or throws a 401 that says what was wrong with the credential when that helps. */
export function authenticator(tokens: TokenService, store: Store): (req: FastifyRequest) => Promise<void> {
  return async (req) => {
    const secret = bearerSecret(req.headers.authorization);
    const check = await tokens.verify('api', secret);
    if (check.ok) {
      req.caller = await callerOf(store, check);
      return;
    }
    req.log.warn({ reason: check.reason, url: req.url }, 'API request rejected');
    // Only the holder of the real secret learns it expired (the hash matched); anything else, unknown or
    // garbage, gets the generic 401 below.
    if (check.expired)
      throw new HttpError(401, 'token_expired', `${check.reason}; log in again (outpost login)`);
    // A valid agent token is a credential in the wrong place, most often pasted into `outpost login`.
    if ((await tokens.kindOf(secret)) === 'agent')
      throw new HttpError(
        401,
        'agent_token',
        'this is an agent token (opa_…), for outpost-agent; log in with an API token (opu_…), such as the admin token the hub wrote at its first start',
      );
    throw unauthorized();
  };
}

/** The caller of a non-public route (set by the authenticator before the handler runs). */
export function requireCaller(req: FastifyRequest): Caller {
  if (!req.caller) throw unauthorized();
  return req.caller;
}
