// The audit log's writer: every answered call of a route that declares an action (each state-changing
// route, and the OIDC callback) is recorded with who called, the team, the path, the caller's address and
// the status, whether it was done or refused. A route fills in what only it knows: the user a login
// names, the team of an object found by id.

import type { FastifyReply, FastifyRequest } from 'fastify';
import { callerAddress } from '../replicas/forward.js';
import type { Store } from '../store/store.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** What the audit log records besides what the request itself says. */
    audit: {
      actor?: string;
      team?: string;
      status?: number;
      /** Forwarded to the replica holding the agent, which audits it (hub/replicas/forward.ts). */
      byOwner?: boolean;
    };
  }
  interface FastifyContextConfig {
    /** The route's action (route.ts): set for the routes the audit log records. */
    action?: string;
  }
}

/** Fastify hooks: `start` on every request, `record` once it is answered. */
export function auditLogHooks(store: Store) {
  return {
    start: (req: FastifyRequest, _reply: FastifyReply, done: () => void) => {
      req.audit = {};
      done();
    },
    // A read (no action) is answered without a promise; a recorded call's hook waits for its row.
    record: (req: FastifyRequest, reply: FastifyReply, done: () => void) => {
      const action = req.routeOptions.config.action;
      if (!action || req.audit.byOwner) return done();
      void recordCall(store, req, reply, action).finally(done);
    },
  };
}

async function recordCall(
  store: Store,
  req: FastifyRequest,
  reply: FastifyReply,
  action: string,
): Promise<void> {
  const params = (req.params ?? {}) as { team?: unknown };
  try {
    await store.auditLog.record({
      at: Date.now(),
      actor: req.audit.actor ?? req.caller?.name ?? 'anonymous',
      team: req.audit.team ?? (typeof params.team === 'string' ? params.team : null),
      action,
      // Never the query: a webhook's carries its token.
      target: req.url.split('?')[0] ?? req.url,
      source: callerAddress(req),
      // A refusal answered with a redirect (to the CLI's listener) is recorded as the refusal.
      status: req.audit.status ?? reply.statusCode,
    });
  } catch (err) {
    req.log.error({ err, action }, 'could not record the audit log entry');
  }
}
