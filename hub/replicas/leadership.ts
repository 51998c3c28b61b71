// Which hub replica leads. Several replicas may share one PostgreSQL database; one of them runs the hub
// (scheduler, checker, stall audit, retention and GC, the engine and the agent gateway) while the others
// stand by, and the first standby to get the lock takes over when the leader dies. The lock is a
// PostgreSQL session-level advisory lock held on a connection of its own: the server releases it the
// moment that session ends (the process died, was SIGKILLed, or its host vanished and TCP keepalives
// gave up), and a standby blocked in pg_advisory_lock returns at once with the lock.
// On SQLite the data directory's lock already makes a hub the only one: it leads from the start.

import pg from 'pg';

export interface Leadership {
  /** Resolves once this replica leads; a standby waits here, for as long as the leader lives. */
  acquire(): Promise<void>;
  /**
   * Resolves (never rejects) when a leader loses its lock: the lock's connection failed, so another
   * replica may take over at any moment. The hub must stop at once (main.ts exits).
   */
  readonly lost: Promise<Error>;
  /** Gives the lock up (a standby may take over) and closes its connection. Idempotent. */
  release(): Promise<void>;
}

/** SQLite: the only hub on its data directory leads from the start and never loses it. */
export function soleLeadership(): Leadership {
  return {
    acquire: () => Promise.resolve(),
    lost: new Promise<Error>(() => undefined),
    release: () => Promise.resolve(),
  };
}

/** The advisory lock's key: a constant every replica of every version agrees on. */
const LEADER_LOCK_SQL = "SELECT pg_advisory_lock(hashtext('outpost-hub-leader'))";

export function advisoryLockLeadership(url: string): Leadership {
  // Keepalives: a leader cut off from the database is noticed by both ends within about a minute, not
  // after the kernel's two hours, so a standby takes over and the old leader stops.
  const client = new pg.Client({
    connectionString: url,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    application_name: 'outpost-hub leader lock',
    connectionTimeoutMillis: 10_000,
  });
  let released = false;
  let leading = false;
  let onLost: (err: Error) => void = () => undefined;
  const lost = new Promise<Error>((resolve) => (onLost = resolve));
  const fail = (err: Error) => {
    if (leading && !released) onLost(err);
  };
  client.on('error', fail);
  client.on('end', () => fail(new Error('the database closed the leader lock connection')));
  return {
    async acquire() {
      await client.connect();
      // A server-wide statement_timeout must not cut a standby's wait short.
      await client.query('SET statement_timeout = 0');
      await client.query(LEADER_LOCK_SQL);
      leading = true;
    },
    lost,
    async release() {
      if (released) return;
      released = true;
      // Ending the session releases its advisory locks.
      await client.end().catch(() => undefined);
    },
  };
}
