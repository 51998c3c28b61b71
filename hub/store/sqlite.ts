// Opens the embedded SQLite store: the database file in the data directory (or memory), the pragmas
// the hub relies on, and the migrations, before handing the connection to the shared Kysely store.

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteAdapter, SqliteDialect } from 'kysely';
import type { DialectAdapter } from 'kysely';
import { KyselyStore } from './kysely-store.js';
import { migrateToLatest } from './migrations/index.js';
import type { Database } from './schema.js';
import { withStatementCache } from './statement-cache.js';
import type { Store } from './store.js';

export const SQLITE_FILE = 'outpost.db';

// Kysely's SQLite adapter reports no transactional DDL, so its Migrator would run migrations outside a
// transaction. SQLite's DDL is transactional: claim it so a failed migration rolls back whole.
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

class OutpostSqliteDialect extends SqliteDialect {
  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}

export async function openSqliteStore(opts: { dataDir: string } | { memory: true }): Promise<Store> {
  let file = ':memory:';
  if ('dataDir' in opts) {
    await mkdir(opts.dataDir, { recursive: true });
    file = join(opts.dataDir, SQLITE_FILE);
  }
  const sqlite = new BetterSqlite3(file);
  // WAL lets readers run beside the writer. NORMAL fsyncs the WAL only at checkpoints: a process crash
  // loses no commit, a power loss can lose those since the last checkpoint (docs/operations.md).
  // The default 4 KiB pages stay: 64 KiB pages cut the CPU of a 64 KiB log chunk's transaction by ~9%
  // (400 -> 370 us, same ~40 MB checkpoint interval) but double it for a one-row update (25 -> 51 us),
  // and the log figure of `npm run bench` did not move (the store is ~1/4 of the hub's CPU there).
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  // Build logs make the WAL grow fast; checkpointing every ~40 MB instead of every 4 MB halves the
  // cost of a log chunk (fewer fsyncs) at the price of a larger WAL file between checkpoints.
  sqlite.pragma('wal_autocheckpoint = 10000');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');

  const db = new Kysely<Database>({
    dialect: new OutpostSqliteDialect({ database: withStatementCache(sqlite) }),
  });
  try {
    await migrateToLatest(db as unknown as Kysely<unknown>);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return new KyselyStore(db);
}
