// Where the store lives, chosen once for the hub and its maintenance commands: PostgreSQL when a
// database URL is given (replicas share it), else SQLite in the data directory (or in memory).

import type { Kysely } from 'kysely';
import { openPostgresDatabase, openPostgresStore } from './postgres.js';
import type { Database } from './schema.js';
import { openSqliteDatabase, openSqliteStore } from './sqlite.js';
import type { Store } from './store.js';

export interface StoreLocation {
  /** postgres://... : the store is on PostgreSQL. */
  databaseUrl?: string;
  /** SQLite's directory when there is no URL; neither: SQLite in memory. */
  dataDir?: string;
}

export function storeDialect(loc: StoreLocation): 'postgres' | 'sqlite' {
  return loc.databaseUrl === undefined ? 'sqlite' : 'postgres';
}

/** Opens and migrates the store. */
export function openStore(loc: StoreLocation): Promise<Store> {
  if (loc.databaseUrl !== undefined) return openPostgresStore({ url: loc.databaseUrl });
  return openSqliteStore(loc.dataDir === undefined ? { memory: true } : { dataDir: loc.dataDir });
}

/** The database, not migrated, for `outpost-hub migrate`. */
export function openDatabase(loc: { databaseUrl: string } | { dataDir: string }): Promise<Kysely<Database>> {
  if ('databaseUrl' in loc) return Promise.resolve(openPostgresDatabase({ url: loc.databaseUrl }));
  return openSqliteDatabase({ dataDir: loc.dataDir });
}
