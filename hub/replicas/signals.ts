// Hints between hub replicas on one PostgreSQL, by LISTEN/NOTIFY on a connection of their own: "a step
// is queued", "step run N ended", "abort step run N", "build N has events up to seq S", and to the
// leader from the API on any replica: "schedule pipeline N", "start build N", "abort build N"; and
// "token N was revoked" (every replica closes its sessions of it); "build N ended" (every replica tells
// the agents that ran its succeeded steps through it, build-end-notices.ts). A hint only saves time: every
// receiver also re-checks the store periodically (and after a reconnect, when hints may have been
// missed), so a lost notification delays work and never loses it. (A lost revocation leaves a session
// open until it reconnects; every new session and API call checks the token in the store.)
//
// The connection's application_name names the replica, so the server's session list (pg_stat_activity)
// says which replicas are alive: a SIGKILLed replica's session ends with its process.
//
// A `pg` client runs one query at a time (pg 9 refuses a second one in flight), and a busy hub publishes
// a hint per build event: hints published while one query is under way wait and leave together, in one
// statement (one round trip and one commit of the server's notification queue for the lot).

import type { Logger } from 'pino';
import pg from 'pg';

const CHANNELS = [
  'dispatch',
  'step_ended',
  'abort',
  'build_events',
  'schedule',
  'start_build',
  'abort_build',
  'token_revoked',
  'build_ended',
] as const;

export type SignalChannel = (typeof CHANNELS)[number];
const PREFIX = 'outpost_';
/** Sends hints in the order given, in one statement. */
const NOTIFY_ALL_SQL =
  'SELECT pg_notify(n.channel, n.payload) FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS n(channel, payload, i) ORDER BY n.i';
const APPLICATION = 'outpost-hub replica ';

export type SignalHandler = (payload: string) => void;

export interface ReplicaSignals {
  /** This replica's id (unique per process start). */
  readonly replicaId: string;
  /** Sends a hint to every replica (this one too). Never throws: a lost hint only delays. */
  publish(channel: SignalChannel, payload: string): void;
  on(channel: SignalChannel, handler: SignalHandler): void;
  /** Called after the connection was lost and is back: hints may have been missed meanwhile. */
  onReconnect(handler: () => void): void;
  /** The replicas whose signal connection is open now (this one included while it is connected). */
  liveReplicas(): Promise<Set<string>>;
  close(): Promise<void>;
}

export async function connectReplicaSignals(
  url: string,
  replicaId: string,
  log: Logger,
  retryMs = 1_000,
): Promise<ReplicaSignals> {
  const handlers = new Map<SignalChannel, SignalHandler[]>();
  const reconnected: (() => void)[] = [];
  let client: pg.Client | undefined;
  let closed = false;
  /** The connection's queries, one after another (never two in flight on one client). */
  let queries: Promise<unknown> = Promise.resolve();
  const serially = <T>(query: (c: pg.Client) => Promise<T>): Promise<T> => {
    const next = queries.then(() => {
      if (!client) throw new Error('the replica signal connection is down');
      return query(client);
    });
    queries = next.catch(() => undefined);
    return next;
  };
  /** Hints waiting for the query in flight; sent together by the next one. */
  let pending: { channels: string[]; payloads: string[] } | undefined;

  const open = async (): Promise<pg.Client> => {
    const c = new pg.Client({
      connectionString: url,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      application_name: APPLICATION + replicaId,
      connectionTimeoutMillis: 10_000,
    });
    c.on('notification', (n) => {
      const channel = n.channel.slice(PREFIX.length) as SignalChannel;
      for (const handler of handlers.get(channel) ?? []) handler(n.payload ?? '');
    });
    let lost = false;
    const onLost = (err?: Error) => {
      if (lost || closed) return;
      lost = true;
      client = undefined;
      log.warn({ err: err?.message }, 'replica signal connection lost; reconnecting');
      void c.end().catch(() => undefined);
      reconnect();
    };
    c.on('error', onLost);
    c.on('end', () => onLost());
    await c.connect();
    // One round trip for every channel (a simple query may hold several statements).
    await c.query(CHANNELS.map((channel) => `LISTEN ${PREFIX}${channel};`).join(' '));
    return c;
  };

  const reconnect = () => {
    const timer = setTimeout(() => {
      if (closed) return;
      open().then(
        (c) => {
          client = c;
          log.info('replica signal connection back');
          for (const handler of reconnected) handler();
        },
        () => reconnect(),
      );
    }, retryMs);
    timer.unref();
  };

  client = await open();
  return {
    replicaId,
    publish(channel, payload) {
      if (!client) return;
      if (pending) {
        pending.channels.push(PREFIX + channel);
        pending.payloads.push(payload);
        return;
      }
      const batch = (pending = { channels: [PREFIX + channel], payloads: [payload] });
      serially((c) => {
        // From here on, new hints start the next batch.
        pending = undefined;
        return c.query(NOTIFY_ALL_SQL, [batch.channels, batch.payloads]);
      }).catch(() => undefined);
    },
    on(channel, handler) {
      handlers.set(channel, [...(handlers.get(channel) ?? []), handler]);
    },
    onReconnect(handler) {
      reconnected.push(handler);
    },
    async liveReplicas() {
      const { rows } = await serially((c) =>
        c.query<{ name: string }>(
          'SELECT application_name AS name FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE $1',
          [`${APPLICATION}%`],
        ),
      );
      return new Set(rows.map((r) => r.name.slice(APPLICATION.length)));
    },
    async close() {
      closed = true;
      // What was published before close still leaves.
      await queries;
      await client?.end().catch(() => undefined);
    },
  };
}
