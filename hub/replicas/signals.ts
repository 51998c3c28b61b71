// Hints between hub replicas on one PostgreSQL, by LISTEN/NOTIFY on a connection of their own: "a step
// is queued", "step run N ended", "abort step run N", "build N has events up to seq S", and to the
// leader from the API on any replica: "schedule pipeline N", "start build N", "abort build N"; and
// "token N was revoked" (every replica closes its sessions of it). A hint only saves time: every
// receiver also re-checks the store periodically (and after a reconnect, when hints may have been
// missed), so a lost notification delays work and never loses it. (A lost revocation leaves a session
// open until it reconnects; every new session and API call checks the token in the store.)
//
// The connection's application_name names the replica, so the server's session list (pg_stat_activity)
// says which replicas are alive: a SIGKILLed replica's session ends with its process.

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
] as const;

export type SignalChannel = (typeof CHANNELS)[number];
const PREFIX = 'outpost_';
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
    for (const channel of CHANNELS) await c.query(`LISTEN ${PREFIX}${channel}`);
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
      client?.query('SELECT pg_notify($1, $2)', [PREFIX + channel, payload]).catch(() => undefined);
    },
    on(channel, handler) {
      handlers.set(channel, [...(handlers.get(channel) ?? []), handler]);
    },
    onReconnect(handler) {
      reconnected.push(handler);
    },
    async liveReplicas() {
      if (!client) throw new Error('the replica signal connection is down');
      const { rows } = await client.query<{ name: string }>(
        'SELECT application_name AS name FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE $1',
        [`${APPLICATION}%`],
      );
      return new Set(rows.map((r) => r.name.slice(APPLICATION.length)));
    },
    async close() {
      closed = true;
      await client?.end().catch(() => undefined);
    },
  };
}
