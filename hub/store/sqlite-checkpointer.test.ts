import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql, type Kysely } from 'kysely';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CHECKPOINT_BYTES } from './sqlite-checkpointer.js';
import { openSqliteDatabase, SQLITE_FILE } from './sqlite.js';
import type { Database } from './schema.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** Commits `bytes` of 64 KiB rows, twelve to a transaction (a log batch's shape). */
async function writeRows(db: Kysely<Database>, bytes: number): Promise<void> {
  const payload = Buffer.alloc(64 * 1024, 'x');
  for (let written = 0; written < bytes; written += 12 * payload.length)
    await db.transaction().execute(async (trx) => {
      for (let i = 0; i < 12; i++) await sql`insert into rows (b) values (${payload})`.execute(trx);
    });
}

describe('SQLite checkpoints on a worker thread', () => {
  it('moves committed pages into the database file while the hub keeps writing, and leaves no WAL at close', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'outpost-checkpoint-'));
    dirs.push(dataDir);
    const file = join(dataDir, SQLITE_FILE);
    const db = await openSqliteDatabase({ dataDir });
    await sql`create table rows (id integer primary key, b blob)`.execute(db);

    await writeRows(db, CHECKPOINT_BYTES + 4 * 1024 * 1024);
    // The main connection never checkpoints (wal_autocheckpoint = 0): the pages reach the database file
    // only through the worker.
    await vi.waitFor(() => expect(statSync(file).size).toBeGreaterThan(CHECKPOINT_BYTES / 2), {
      timeout: 20_000,
    });
    // And the hub's own commits go on meanwhile.
    await writeRows(db, 1024 * 1024);

    await db.destroy();
    expect(existsSync(`${file}-wal`)).toBe(false);
    const reopened = await openSqliteDatabase({ dataDir });
    const { rows } = await sql<{ n: number }>`select count(*) as n from rows`.execute(reopened);
    expect(rows[0]?.n).toBe(Math.ceil((CHECKPOINT_BYTES + 4 * 1024 * 1024) / (12 * 65536)) * 12 + 2 * 12);
    await reopened.destroy();
  });
});
