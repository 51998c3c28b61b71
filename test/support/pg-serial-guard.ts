// Catches a `pg` client given a query while it still runs one: pg 8 queues it and warns once per
// process ("Calling client.query() when the client is already executing a query is deprecated"),
// pg 9 refuses it. The guard wraps Client.prototype.query for this test process and records every
// such call with its stack, so a test can assert there were none (a warning printed once would hide
// the second place that does it, and a fire-and-forget query would swallow pg 9's error).

import pg from 'pg';

/** pg's own bookkeeping of the query in flight and those waiting behind it (pg 8.x). */
interface ClientQueue {
  _activeQuery?: unknown;
  _queryQueue?: unknown[];
}

const violations: string[] = [];
let installed = false;

/** Installs the guard (once per process); returns the calls caught so far, live. */
export function guardPgSerialQueries(): readonly string[] {
  if (installed) return violations;
  installed = true;
  const proto = pg.Client.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  const query = proto.query;
  if (!query) throw new Error('pg.Client has no query method: update test/support/pg-serial-guard.ts');
  proto.query = function guarded(this: ClientQueue, ...args: unknown[]) {
    if (!Array.isArray(this._queryQueue))
      throw new Error('pg.Client keeps no _queryQueue any more: update test/support/pg-serial-guard.ts');
    if (this._activeQuery || this._queryQueue.length > 0) {
      const first = args[0] as string | { text?: string } | undefined;
      const text = typeof first === 'string' ? first : (first?.text ?? 'a submittable query');
      violations.push(`${text.slice(0, 120)}\n${new Error('second query in flight').stack ?? ''}`);
    }
    return query.apply(this, args);
  };
  return violations;
}
