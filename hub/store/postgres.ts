// Opens the store on PostgreSQL (several hub replicas share one database): a `pg` connection pool under
// Kysely's Postgres dialect, the migrations, and the same Kysely store as on SQLite, told that it must
// lock rows where SQLite's single writer made that unnecessary.

import type { Logger } from 'pino';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { EncryptionKeyError, withEncryption, type StoreEncryption } from './encryption.js';
import { kyselyStore } from './kysely-store.js';
import { migrateToLatest } from './migrations/index.js';
import type { Database } from './schema.js';
import type { Store } from './store.js';

/** A `--database` value that is not a PostgreSQL URL. */
export class DatabaseUrlError extends Error {
  override readonly name = 'DatabaseUrlError';
  readonly code = 'DATABASE_URL_INVALID';
}

/** The URL with its password (in the authority or a `password` parameter) replaced, for messages. */
export function redactDatabaseUrl(url: string): string {
  return url.replace(/(:\/\/[^:/@]*:)[^@/]*@/, '$1***@').replace(/([?&]password=)[^&]*/i, '$1***');
}

/**
 * Checks that `url` names PostgreSQL (postgres:// or postgresql://; `pg` parses the rest, including a
 * unix socket directory as `?host=/run/postgresql`). Throws a DatabaseUrlError naming the problem.
 */
export function checkDatabaseUrl(url: string): void {
  if (!/^postgres(ql)?:\/\//i.test(url))
    throw new DatabaseUrlError(
      `the database URL ${redactDatabaseUrl(url)} is not a PostgreSQL URL ` +
        '(postgres://USER:PASSWORD@HOST:PORT/DATABASE); without one the hub uses SQLite in --data-dir',
    );
}

export interface PostgresOptions {
  url: string;
  /** Connections in the pool (default 10). */
  maxConnections?: number;
  encryption?: StoreEncryption;
  /** Told each migration applied at open (migrations/index.ts). */
  log?: Logger;
}

/** A Kysely instance on the database, not migrated (the `migrate` command lists what is pending). */
export function openPostgresDatabase(opts: PostgresOptions): Kysely<Database> {
  checkDatabaseUrl(opts.url);
  // A database that does not answer fails the start (or a query) within seconds rather than hanging it.
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.maxConnections ?? 10,
    connectionTimeoutMillis: 10_000,
  });
  // A connection the server drops (a restart, a failover, an administrator) emits 'error' on its client
  // and, while idle in the pool, on the pool; unhandled either would end the process. The pool discards
  // that client and the next query opens a new connection; a query under way fails on its own.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

/** Opens and migrates the store. Replicas starting together migrate once (the Migrator's advisory lock). */
export async function openPostgresStore(opts: PostgresOptions): Promise<Store> {
  const db = openPostgresDatabase(opts);
  try {
    await migrateToLatest(db as unknown as Kysely<unknown>, opts.log);
    return kyselyStore(await withEncryption(db, opts.encryption), { rowLocks: true });
  } catch (err) {
    await db.destroy();
    if (err instanceof EncryptionKeyError) throw err;
    throw new Error(`PostgreSQL at ${redactDatabaseUrl(opts.url)}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}
