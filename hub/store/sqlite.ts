// Opens the embedded SQLite store: the database file in the data directory (or memory), the exclusive
// lock that keeps a second hub out, the pragmas the hub relies on, and the migrations, before handing
// the connection to the shared Kysely store.

import type { Logger } from 'pino';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteAdapter, SqliteDialect } from 'kysely';
import type { DialectAdapter } from 'kysely';
import { kyselyStore } from './kysely-store.js';
import { migrateToLatest } from './migrations/index.js';
import type { Database } from './schema.js';
import { checkpointOnWorker } from './sqlite-checkpointer.js';
import { withStatementCache } from './statement-cache.js';
import type { CommitBatch } from './commit-batch.js';
import type { Store } from './store.js';
import { withEncryption, type StoreEncryption } from './encryption.js';
import { DataDirInUseError, readLockHolder, recordLockHolder } from './lock-holder.js';

export const SQLITE_FILE = 'outpost.db';
export const LOCK_FILE = 'outpost.lock';

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
  opts: ({ dataDir: string } | { memory: true }) & { encryption?: StoreEncryption; log?: Logger },
): Promise<Store> {
  const db = await openSqliteDatabase(opts);
  try {
    await migrateToLatest(db as unknown as Kysely<unknown>, opts.log);
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
  const lock = 'dataDir' in opts ? await lockDataDir(opts.dataDir) : undefined;
  const sqlite = new BetterSqlite3(file);
  try {
    // WAL appends commits rather than rewriting pages. NORMAL fsyncs the WAL only at checkpoints: a process
    // crash loses no commit, a power loss can lose those since the last checkpoint (docs/operations.md).
    // The default 4 KiB pages stay. SQLite's cost per log byte is per page (a WAL frame each, written again
    // at the checkpoint): 8 KiB pages save ~30% of it and 16 KiB half, but a small transaction of the
    // build and step path then costs 12% and 50% more, and logs are ~1/6 SQLite (docs/performance.md).
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    // Each write that joins the commit batch runs in a SAVEPOINT, whose sub-journal copies every page the
    // write touches; past 64 KiB SQLite spills it to a temporary file, one pwrite per page (8-9% of the
    // hub's main thread at 1,000 steps/s: docs/performance.md, session 14). MEMORY keeps it (and the few
    // temporary b-trees of DISTINCT, no larger than their results) in memory.
    sqlite.pragma('temp_store = MEMORY');
  } catch (err) {
    sqlite.close();
    lock?.close();
    // A hub from before the lock file holds SQLite's exclusive lock on the database itself.
    if ((err as { code?: string }).code === 'SQLITE_BUSY' && 'dataDir' in opts)
      throw new DataDirInUseError(opts.dataDir, await readLockHolder(opts.dataDir), { cause: err });
    throw err;
  }
  // Checkpoints run on a worker thread, off the event loop (sqlite-checkpointer.ts); in memory there is no WAL.
  const database =
    lock === undefined
      ? withStatementCache(sqlite)
      : checkpointOnWorker(sqlite, file, withStatementCache(sqlite), () => lock.close());
  const db = new Kysely<Database>({ dialect: new OutpostSqliteDialect({ database }) });
  commitBatches.set(db, database.batch);
  return db;
}

/** Each opened database's commit batch (commit-batch.ts), for the store over it. */
const commitBatches = new WeakMap<Kysely<Database>, CommitBatch>();

/**
 * Takes SQLite's exclusive lock on the data directory's lock file (`outpost.lock`, an empty SQLite
 * database) for as long as the hub runs: two hubs on one data directory would both schedule and "repair"
 * each other's builds. It is an fcntl lock, so the kernel releases it when the holder dies, even by
 * SIGKILL, and a crashed hub never blocks its restart (a pid in a lock file cannot tell that across hosts
 * or containers). The database itself is not opened exclusively: the checkpointing worker has a
 * connection of its own to it. Refuses at once, naming the holder.
 */
async function lockDataDir(dataDir: string): Promise<BetterSqlite3.Database> {
  const lock = new BetterSqlite3(join(dataDir, LOCK_FILE));
  lock.pragma('busy_timeout = 0');
  lock.pragma('locking_mode = EXCLUSIVE');
  try {
    // An exclusive transaction takes the lock; in exclusive locking mode it is kept after the commit.
    lock.exec('BEGIN EXCLUSIVE; COMMIT');
  } catch (err) {
    lock.close();
    if ((err as { code?: string }).code === 'SQLITE_BUSY')
      throw new DataDirInUseError(dataDir, await readLockHolder(dataDir), { cause: err });
    throw err;
  }
  await recordLockHolder(dataDir);
  return lock;
}
