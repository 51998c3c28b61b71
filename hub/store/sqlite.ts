// Opens the embedded SQLite store: the database file in the data directory (or memory), the exclusive
// lock that keeps a second hub out, the pragmas the hub relies on, and the migrations, before handing
// the connection to the shared Kysely store.

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteAdapter, SqliteDialect } from 'kysely';
import type { DialectAdapter } from 'kysely';
import { kyselyStore } from './kysely-store.js';
import { migrateToLatest } from './migrations/index.js';
import type { Database } from './schema.js';
import { withStatementCache } from './statement-cache.js';
import type { CommitBatch } from './commit-batch.js';
import type { Store } from './store.js';
import { withEncryption, type StoreEncryption } from './encryption.js';
import { DataDirInUseError, readLockHolder, recordLockHolder } from './lock-holder.js';

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

export async function openSqliteStore(
  opts: ({ dataDir: string } | { memory: true }) & { encryption?: StoreEncryption },
): Promise<Store> {
  const db = await openSqliteDatabase(opts);
  try {
    await migrateToLatest(db as unknown as Kysely<unknown>);
    return kyselyStore(await withEncryption(db, opts.encryption), {
      rowLocks: false,
      batch: commitBatches.get(db),
    });
  } catch (err) {
    await db.destroy();
    throw err;
  }
}

/** The database with its lock and pragmas, not migrated (the `migrate` command lists what is pending). */
export async function openSqliteDatabase(
  opts: { dataDir: string } | { memory: true },
): Promise<Kysely<Database>> {
  let file = ':memory:';
  if ('dataDir' in opts) {
    await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
    file = join(opts.dataDir, SQLITE_FILE);
  }
  const sqlite = new BetterSqlite3(file);
  if ('dataDir' in opts) await lockDataDir(sqlite, opts.dataDir);
  // WAL appends commits rather than rewriting pages. NORMAL fsyncs the WAL only at checkpoints: a process crash
  // loses no commit, a power loss can lose those since the last checkpoint (docs/operations.md).
  // The default 4 KiB pages stay. SQLite's cost per log byte is per page (a WAL frame each, written again
  // at the checkpoint): 8 KiB pages save ~30% of it and 16 KiB half, but a small transaction of the
  // build and step path then costs 12% and 50% more, and logs are ~1/6 SQLite (docs/performance.md).
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  // Build logs make the WAL grow fast; checkpointing every ~40 MB instead of every 4 MB halves the
  // cost of a log chunk (fewer fsyncs) at the price of a larger WAL file between checkpoints.
  sqlite.pragma('wal_autocheckpoint = 10000');
  sqlite.pragma('foreign_keys = ON');

  const database = withStatementCache(sqlite);
  const db = new Kysely<Database>({ dialect: new OutpostSqliteDialect({ database }) });
  commitBatches.set(db, database.batch);
  return db;
}

/** Each opened database's commit batch (commit-batch.ts), for the store over it. */
const commitBatches = new WeakMap<Kysely<Database>, CommitBatch>();

/**
 * Takes SQLite's exclusive lock on the database for as long as the connection is open: two hubs on one
 * data directory would both schedule and "repair" each other's builds. It is an fcntl lock, so the
 * kernel releases it when the holder dies, even by SIGKILL, and a crashed hub never blocks its restart
 * (a pid in a lock file cannot tell that across hosts or containers). Refuses at once, naming the holder.
 */
async function lockDataDir(sqlite: BetterSqlite3.Database, dataDir: string): Promise<void> {
  sqlite.pragma('busy_timeout = 0');
  // Before the first access: in WAL mode an exclusive connection also keeps the WAL index in its own
  // memory rather than in a -shm file that other processes map.
  sqlite.pragma('locking_mode = EXCLUSIVE');
  try {
    // A write transaction takes the lock; in exclusive mode it is kept after the commit.
    sqlite.exec('BEGIN IMMEDIATE; COMMIT');
  } catch (err) {
    sqlite.close();
    if ((err as { code?: string }).code === 'SQLITE_BUSY')
      throw new DataDirInUseError(dataDir, await readLockHolder(dataDir), { cause: err });
    throw err;
  }
  await recordLockHolder(dataDir);
}
