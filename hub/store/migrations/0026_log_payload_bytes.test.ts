import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Migrator, sql } from 'kysely';
import { expect, it } from 'vitest';
import { formatEvent } from '../../api/sse.js';
import { openSqliteDatabase, openSqliteStore } from '../sqlite.js';
import { migrations } from './index.js';

// A build's log stored by a hub before 0026 (each payload inside its event's JSON) reads as it did after
// the upgrade, and a chunk the upgraded hub appends to the same step joins it in one log.
it('0026 keeps logs stored with their payload inside the JSON readable, beside new ones', async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'outpost-0026-'));
  try {
    const db = await openSqliteDatabase({ dataDir });
    const before = Object.fromEntries(Object.entries(migrations).filter(([name]) => name < '0026'));
    const { error } = await new Migrator({
      db,
      provider: { getMigrations: () => Promise.resolve(before) },
    }).migrateToLatest();
    expect(error).toBeUndefined();
    await sql`INSERT OR IGNORE INTO teams (id, name) VALUES (1, 'main')`.execute(db);
    await sql`INSERT INTO pipelines (id, team_id, name, config_version, created_at, updated_at)
      VALUES (1, 1, 'p', 1, 0, 0)`.execute(db);
    await sql`INSERT INTO jobs (id, pipeline_id, name, plan, config_order) VALUES (1, 1, 'j', '{}', 0)`.execute(
      db,
    );
    await sql`INSERT INTO builds (id, team_id, pipeline_id, job_id, name, status, plan, created_at)
      VALUES (1, 1, 1, 1, '1', 'started', '{}', 0)`.execute(db);
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
