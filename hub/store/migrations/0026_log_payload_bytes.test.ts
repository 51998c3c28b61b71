import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql, type Kysely } from 'kysely';
import { expect, it } from 'vitest';
import { insertBuildRows, migrateBefore } from '../../../test/support/old-database.js';
import { formatEvent } from '../../api/sse.js';
import { openSqliteDatabase, openSqliteStore } from '../sqlite.js';

// A build's log stored by a hub before 0026 (each payload inside its event's JSON) reads as it did after
// the upgrade, and a chunk the upgraded hub appends to the same step joins it in one log.
it('0026 keeps logs stored with their payload inside the JSON readable, beside new ones', async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'outpost-0026-'));
  try {
    // Typed as the migrations see it: schema.ts describes the latest schema, not this one.
    const db = (await openSqliteDatabase({ dataDir })) as unknown as Kysely<unknown>;
    await migrateBefore(db, '0026');
    await insertBuildRows(db, 'started');
    await sql`INSERT INTO step_runs (id, build_id, plan_id, name, status, spec, log_seq, created_at)
      VALUES (1, 1, 's', 's', 'running', 'null', 1, 0)`.execute(db);
    const old = { origin: { id: 's', source: 'stdout' }, payload: 'old "line" 1\n', time: 9 };
    await sql`INSERT INTO build_events (build_id, seq, type, version, data, at)
      VALUES (1, 1, 'log', '5.1', ${JSON.stringify(old)}, 0)`.execute(db);
    const oldFrame = `id: 1\nevent: event\ndata: {"event":"log","version":"5.1","data":${JSON.stringify(old)}}\n\n`;
    await db.destroy();

    const store = await openSqliteStore({ dataDir });
    try {
      const [appended] = await store.appendLogs([
        {
          stepRunId: 1,
          seq: 2,
          bytes: 9,
          event: { type: 'log', version: '5.1', data: { origin: { id: 's', source: 'stdout' }, time: 10 } },
          payload: Buffer.from('new ü 2\n'),
          at: 1,
        },
      ]);
      expect(appended?.kind).toBe('stored');
      const events = await store.listBuildEvents(1, 0, 10);
      expect(events.map((e) => JSON.parse(e.json) as unknown)).toEqual([
        old,
        { origin: { id: 's', source: 'stdout' }, time: 10, payload: 'new ü 2\n' },
      ]);
      // The old event is framed for SSE exactly as before the upgrade.
      expect(formatEvent(events[0]!).toString()).toBe(oldFrame);
    } finally {
      await store.close();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
