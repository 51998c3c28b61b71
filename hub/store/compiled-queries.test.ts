// CompiledQueries: the SQL of a shape is compiled once and later calls bind their own values; a shape
// that would need other SQL for other values is refused at its first use. The store's own tests
// (sqlite.test.ts, on SQLite and PostgreSQL) cover the queries the store compiles this way.

import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, type ExpressionBuilder } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CompiledQueries } from './compiled-queries.js';
import { EncryptionPlugin, FieldCipher } from './encryption.js';

interface Db {
  items: { id: number; kind: string; owner: string | null };
}

let db: Kysely<Db>;
let compiled: CompiledQueries<Db>;

beforeEach(async () => {
  db = new Kysely<Db>({ dialect: new SqliteDialect({ database: new BetterSqlite3(':memory:') }) });
  await db.schema
    .createTable('items')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('owner', 'text')
    .execute();
  await db
    .insertInto('items')
    .values([
      { id: 1, kind: 'job', owner: 'ann' },
      { id: 2, kind: 'check', owner: 'ann' },
      { id: 3, kind: 'job', owner: null },
    ])
    .execute();
  compiled = new CompiledQueries(db);
});
afterEach(() => db.destroy());

const jobsOf = (owner: string) =>
  db.selectFrom('items').selectAll().where('kind', '=', 'job').where('owner', '=', owner).orderBy('id');

describe('CompiledQueries', () => {
  it('binds each call its own values, keeping the constants of the query', async () => {
    const ids = async (owner: string) =>
      (await compiled.execute('jobs of', jobsOf, owner)).rows.map((r) => r.id);
    expect(await ids('ann')).toEqual([1]);
    expect(await ids('bob')).toEqual([]);
    await db.insertInto('items').values({ id: 4, kind: 'job', owner: 'bob' }).execute();
    expect(await ids('bob')).toEqual([4]);
    expect(await ids('ann')).toEqual([1]);
  });

  it('reports the rows an update changed', async () => {
    const rename = (from: string, to: string) =>
      compiled.execute(
        'rename',
        (a: string, b: string) => db.updateTable('items').set({ owner: b }).where('owner', '=', a),
        from,
        to,
      );
    expect((await rename('ann', 'cy')).numAffectedRows).toBe(2n);
    expect((await rename('ann', 'cy')).numAffectedRows).toBe(0n);
    expect((await db.selectFrom('items').select('id').where('owner', '=', 'cy').execute()).length).toBe(2);
  });

  it('refuses a shape whose SQL depends on a value, at its first use', async () => {
    const ownedBy = (eb: ExpressionBuilder<Db, 'items'>, owner: string | null) =>
      owner === null ? eb('owner', 'is', null) : eb('owner', '=', owner);
    const find = (owner: string | null) =>
      compiled.execute(
        'by owner',
        (o: string | null) =>
          db
            .selectFrom('items')
            .select('id')
            .where((eb) => ownedBy(eb, o)),
        owner,
      );
    await expect(find(null)).rejects.toThrow(/depend on more than the shape/);
  });

  it('refuses an argument the query transforms rather than binds', async () => {
    const find = (owner: string) =>
      compiled.execute(
        'by upper-cased owner',
        (o: string) => db.selectFrom('items').select('id').where('owner', '=', o.toUpperCase()),
        owner,
      );
    await expect(find('ann')).rejects.toThrow(/depend on more than the shape/);
  });

  it('builds on every call a shape whose values a plugin encrypts, and reads them back in clear', async () => {
    // The encryption plugin seals step_runs.spec: its ciphertext differs per call, so no SQL is reused.
    interface Sealed {
      step_runs: { id: number; spec: string };
    }
    const sealed = new Kysely<Sealed>({
      dialect: new SqliteDialect({ database: new BetterSqlite3(':memory:') }),
    });
    await sealed.schema
      .createTable('step_runs')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('spec', 'text', (c) => c.notNull())
      .execute();
    const encrypted = sealed.withPlugin(new EncryptionPlugin(new FieldCipher(Buffer.alloc(32, 7))));
    const queries = new CompiledQueries(encrypted);
    const insert = (id: number, spec: string) =>
      queries.execute(
        'insert',
        (i: number, s: string) => encrypted.insertInto('step_runs').values({ id: i, spec: s }).returningAll(),
        id,
        spec,
      );
    expect((await insert(1, 'secret one')).rows).toEqual([{ id: 1, spec: 'secret one' }]);
    expect((await insert(2, 'secret two')).rows).toEqual([{ id: 2, spec: 'secret two' }]);
    const raw = await sealed.selectFrom('step_runs').select('spec').orderBy('id').execute();
    expect(raw.map((r) => r.spec.startsWith('enc:v1:'))).toEqual([true, true]);
    await sealed.destroy();
  });
});
