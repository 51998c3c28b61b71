// Opens the embedded SQLite store: the database file in the data directory (or memory), the exclusive
// lock that keeps a second hub out, the pragmas the hub relies on, and the migrations, before handing
// the connection to the shared Kysely store.

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
import { EncryptionKeyError, EncryptionPlugin, FieldCipher, reencryptAll } from './encryption.js';
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

/** The operator's key for secrets at rest (hub/store/encryption.ts), and a previous one during rotation. */
export interface StoreEncryption {
  key: Buffer;
  oldKey?: Buffer;
}

export async function openSqliteStore(
  opts: ({ dataDir: string } | { memory: true }) & { encryption?: StoreEncryption },
): Promise<Store> {
  let file = ':memory:';
  if ('dataDir' in opts) {
    await mkdir(opts.dataDir, { recursive: true });
    file = join(opts.dataDir, SQLITE_FILE);
  }
  const sqlite = new BetterSqlite3(file);
  if ('dataDir' in opts) await lockDataDir(sqlite, opts.dataDir);
  // WAL appends commits rather than rewriting pages. NORMAL fsyncs the WAL only at checkpoints: a process crash
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

  const cipher = opts.encryption && new FieldCipher(opts.encryption.key, opts.encryption.oldKey);
  const db = new Kysely<Database>({
    dialect: new OutpostSqliteDialect({ database: withStatementCache(sqlite) }),
    plugins: cipher ? [new EncryptionPlugin(cipher)] : [],
  });
  try {
    await migrateToLatest(db as unknown as Kysely<unknown>);
    if (cipher) await reencryptAll(db, cipher);
    else await refuseEncryptedWithoutKey(db);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return new KyselyStore(db);
}

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

/** Started without a key on a database that has encrypted values: say so now, not at the first read. */
async function refuseEncryptedWithoutKey(db: Kysely<Database>): Promise<void> {
  const encrypted = await db
    .selectFrom('pipeline_configs')
    .select('pipeline_id')
    .where('source', 'like', 'enc:v1:%')
    .limit(1)
    .executeTakeFirst();
  if (encrypted)
    throw new EncryptionKeyError(
      'the database holds secrets encrypted with an --encryption-key; start the hub with that key',
    );
}
