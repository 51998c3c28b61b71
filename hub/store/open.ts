// Where the store lives, chosen once for the hub and its maintenance commands: PostgreSQL when a
// database URL is given (replicas share it), else SQLite in the data directory (or in memory).

import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { StoreEncryption } from './encryption.js';
import { openPostgresDatabase, openPostgresStore } from './postgres.js';
import type { Database } from './schema.js';
import { openSqliteDatabase, openSqliteStore } from './sqlite.js';
import type { Store } from './store.js';

export interface StoreLocation {
  /** postgres://... : the store is on PostgreSQL. */
  databaseUrl?: string;
  /** SQLite's directory when there is no URL; neither: SQLite in memory. */
  dataDir?: string;
  /** The key for secrets at rest (either dialect); undefined: stored in clear. */
  encryption?: StoreEncryption;
  /** Told each migration applied at open. */
  log?: Logger;
}

export function storeDialect(loc: StoreLocation): 'postgres' | 'sqlite' {
  return loc.databaseUrl === undefined ? 'sqlite' : 'postgres';
}

/** Opens and migrates the store. */
export function openStore(loc: StoreLocation): Promise<Store> {
  const { encryption, log } = loc;
  if (loc.databaseUrl !== undefined) return openPostgresStore({ url: loc.databaseUrl, encryption, log });
  return openSqliteStore({
    ...(loc.dataDir === undefined ? { memory: true as const } : { dataDir: loc.dataDir }),
    encryption,
    log,
  });
}

/** The database, not migrated, for `outpost-hub migrate`. */
export function openDatabase(loc: { databaseUrl: string } | { dataDir: string }): Promise<Kysely<Database>> {
  if ('databaseUrl' in loc) return Promise.resolve(openPostgresDatabase({ url: loc.databaseUrl }));
  return openSqliteDatabase({ dataDir: loc.dataDir });
}
