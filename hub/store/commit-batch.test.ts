import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { withStatementCache } from './statement-cache.js';

let dir: string;
let db: Kysely<{ t: { x: number } }>;
let batch: ReturnType<typeof withStatementCache>['batch'];
/** Another connection to the same file: what a hub restarted now would find. */
let reader: BetterSqlite3.Database;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'outpost-batch-'));
  const file = join(dir, 'db');
  const sqlite = new BetterSqlite3(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.exec('create table t (x integer not null check (x > 0))');
  const database = withStatementCache(sqlite);
  batch = database.batch;
  db = new Kysely({ dialect: new SqliteDialect({ database }) });
  reader = new BetterSqlite3(file, { readonly: true });
});

afterEach(async () => {
  reader.close();
  await db.destroy();
  await rm(dir, { recursive: true, force: true });
});

const committed = () =>
  (reader.prepare('select x from t order by x').all() as { x: number }[]).map((r) => r.x);

/** A write that leaves its commit to the batch, as the store's `deferCommit` writes do. */
const deferred = (x: number) =>
  db.transaction().execute(async (trx) => {
    await trx.insertInto('t').values({ x }).execute();
    batch.deferCommit();
  });

it('commits deferred writes together once, and durable() resolves after that commit', async () => {
  await deferred(1);
  await deferred(2);
  expect(committed()).toEqual([]);
  await batch.durable();
  expect(committed()).toEqual([1, 2]);
  await expect(batch.durable()).resolves.toBeUndefined();
});

it('commits the batch at the end of the turn with no one waiting', async () => {
  await deferred(1);
  await new Promise((resolve) => setImmediate(resolve));
  expect(committed()).toEqual([1]);
});

it('undoes only the rows of a deferred write that fails, keeping the others of its batch', async () => {
  await deferred(1);
  await expect(deferred(-1)).rejects.toThrow(/CHECK constraint/);
  await deferred(3);
  await batch.durable();
  expect(committed()).toEqual([1, 3]);
});

it('commits the batch before a plain write or a transaction that does not defer', async () => {
  await deferred(1);
  await db.insertInto('t').values({ x: 2 }).execute();
  expect(committed()).toEqual([1, 2]);
  await deferred(3);
  await db.transaction().execute((trx) => trx.insertInto('t').values({ x: 4 }).execute());
  expect(committed()).toEqual([1, 2, 3, 4]);
  expect(batch.pending()).toBe(false);
});

it('lets a read see the batch without committing it, and says it is pending until the commit', async () => {
  expect(batch.pending()).toBe(false);
  await deferred(1);
  await deferred(2);
  const { rows } = await sql<{ n: number }>`select count(*) as n from t`.execute(db);
  expect(rows[0]?.n).toBe(2);
  expect(committed()).toEqual([]);
  expect(batch.pending()).toBe(true);
  await batch.durable();
  expect(committed()).toEqual([1, 2]);
  expect(batch.pending()).toBe(false);
});

it('commits what is deferred when the connection closes', async () => {
  await deferred(1);
  await db.destroy();
  expect(committed()).toEqual([1]);
  db = new Kysely({ dialect: new SqliteDialect({ database: new BetterSqlite3(':memory:') }) });
});

it('runs whenDurable callbacks at once with nothing to commit, else right after the commit', async () => {
  const ran: string[] = [];
  batch.whenDurable(() => ran.push('now'));
  expect(ran).toEqual(['now']);
  await deferred(1);
  const awaited = batch.durable().then(() => ran.push('awaited'));
  batch.whenDurable(() => ran.push(`after commit, committed: ${committed().join()}`));
  expect(ran).toEqual(['now']);
  await awaited;
  expect(ran).toEqual(['now', 'after commit, committed: 1', 'awaited']);
});
