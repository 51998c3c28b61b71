import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { expect, it } from 'vitest';
import { insertBuildRows, migrateBefore } from '../../../test/support/old-database.js';

// A build stored by an earlier hub reads in fly after the upgrade: its events become Concourse's.
it("0016 rewrites stored events into Concourse's types and versions", async () => {
  const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new BetterSqlite3(':memory:') }) });
  await migrateBefore(db, '0016');
  await insertBuildRows(db, 'succeeded');
  const old: [string, string, unknown][] = [
    ['pending', '1.0', { reason: 'waiting for the check of r', time: 7 }],
    ['initialize-get', '1.0', { origin: { id: 'g' }, time: 8 }],
    ['start-check', '1.0', { origin: { id: 'check' }, time: 8 }],
    ['finish-check', '1.0', { origin: { id: 'check' }, succeeded: true, time: 9 }],
    [
      'finish-get',
      '1.0',
      { origin: { id: 'g' }, exit_status: 0, version: { v: '1' }, metadata: [], time: 9 },
    ],
    [
      'finish-put',
      '1.0',
      { origin: { id: 'p' }, exit_status: 0, version: { v: '2' }, metadata: [], time: 9 },
    ],
    ['log', '5.1', { origin: { id: 'g', source: 'stdout' }, payload: 'hi\n', time: 9 }],
  ];
  for (const [i, [type, version, data]] of old.entries())
    await sql`INSERT INTO build_events (build_id, seq, type, version, data, at)
      VALUES (1, ${i + 1}, ${type}, ${version}, ${JSON.stringify(data)}, 0)`.execute(db);

  await migrateBefore(db, '0017');
  const { rows } = await sql<{ type: string; version: string; data: string }>`
    SELECT type, version, data FROM build_events ORDER BY seq`.execute(db);
  expect(rows.map((r) => [r.type, r.version, JSON.parse(r.data) as unknown])).toEqual([
    ['log', '5.1', { origin: {}, payload: 'pending: waiting for the check of r\n', time: 7 }],
    ['initialize-get', '2.0', { origin: { id: 'g' }, time: 8 }],
    ['start', '1.0', { origin: { id: 'check' }, time: 8 }],
    ['finish', '1.0', { origin: { id: 'check' }, succeeded: true, time: 9 }],
    [
      'finish-get',
      '5.1',
      { origin: { id: 'g' }, exit_status: 0, version: { v: '1' }, metadata: [], time: 9 },
    ],
    [
      'finish-put',
      '5.1',
      { origin: { id: 'p' }, exit_status: 0, version: { v: '2' }, metadata: [], time: 9 },
    ],
    ['log', '5.1', { origin: { id: 'g', source: 'stdout' }, payload: 'hi\n', time: 9 }],
  ]);
  await db.destroy();
});
