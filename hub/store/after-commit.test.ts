import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { AfterCommit } from './after-commit.js';
import type { CommitBatch } from './commit-batch.js';
import { withStatementCache } from './statement-cache.js';

let dir: string;
let db: Kysely<{ t: { x: number } }>;
let batch: CommitBatch;
let written: string[];
let out: AfterCommit<string>;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'outpost-after-commit-'));
  const sqlite = new BetterSqlite3(join(dir, 'db'));
  sqlite.pragma('journal_mode = WAL');
  sqlite.exec('create table t (x integer not null)');
  const database = withStatementCache(sqlite);
  batch = database.batch;
  db = new Kysely({ dialect: new SqliteDialect({ database }) });
  written = [];
  out = new AfterCommit(
    { uncommitted: () => batch.pending(), whenDurable: (then) => batch.whenDurable(then) },
    (m) => written.push(m),
  );
});

afterEach(async () => {
  await db.destroy();
  await rm(dir, { recursive: true, force: true });
});

/** A write left in the commit batch, as the store's `deferCommit` writes are. */
const deferred = (x: number) =>
  db.transaction().execute(async (trx) => {
    await trx.insertInto('t').values({ x }).execute();
    batch.deferCommit();
  });

it('writes at once while nothing waits for a commit', () => {
  out.send('a');
  expect(written).toEqual(['a']);
  let ended = false;
  out.whenSent(() => (ended = true));
  expect(ended).toBe(true);
});

it('holds messages while writes wait for their commit, then writes them in order before what follows', async () => {
  await deferred(1);
  out.send('a');
  out.send('b');
  let ended = false;
  out.whenSent(() => (ended = true));
  expect(written).toEqual([]);
  expect(ended).toBe(false);
  await batch.durable();
  expect(written).toEqual(['a', 'b']);
  expect(ended).toBe(true);
  out.send('c');
  expect(written).toEqual(['a', 'b', 'c']);
});

it('writes what it held right after the commit, before what awaited durable() runs', async () => {
  await deferred(1);
  // A writer that awaited the commit before the messages were held: it still runs after their release.
  const later = batch.durable().then(() => {
    const before = [...written];
    out.send('b');
    return before;
  });
  out.send('a');
  expect(await later).toEqual(['a']);
  expect(written).toEqual(['a', 'b']);
});
