// Stored build events in Concourse's types and versions, as the hub now emits them (hub/events/
// build-events.ts), so an old build's stream reads in fly as a new one's does: `pending` notes become
// `log` events of no step, `finish-check` becomes `finish`, and gets, puts and checks get Concourse's
// versions. Data is rewritten in code (no JSON functions in SQL, for PostgreSQL and SQLite alike).

import type { Kysely } from 'kysely';

interface Db {
  build_events: { build_id: number; seq: number; type: string; version: string; data: string };
}

/** Concourse's version of each type whose stored version was the old default (1.0). */
const VERSIONS: Record<string, string> = {
  'initialize-get': '2.0',
  'initialize-put': '2.0',
  'finish-get': '5.1',
  'finish-put': '5.1',
};

export async function up(raw: Kysely<unknown>): Promise<void> {
  const db = raw as unknown as Kysely<Db>;
  for (const [type, version] of Object.entries(VERSIONS))
    await db.updateTable('build_events').set({ version }).where('type', '=', type).execute();
  await db
    .updateTable('build_events')
    .set({ type: 'finish', version: '1.0' })
    .where('type', '=', 'finish-check')
    .execute();
  await db
    .updateTable('build_events')
    .set({ type: 'start', version: '1.0' })
    .where('type', '=', 'start-check')
    .execute();
  const pending = await db
    .selectFrom('build_events')
    .select(['build_id', 'seq', 'data'])
    .where('type', '=', 'pending')
    .execute();
  for (const row of pending) {
    const { reason, time } = JSON.parse(row.data) as { reason?: unknown; time?: unknown };
    const data = { origin: {}, payload: `pending: ${String(reason)}\n`, time };
    await db
      .updateTable('build_events')
      .set({ type: 'log', version: '5.1', data: JSON.stringify(data) })
      .where('build_id', '=', row.build_id)
      .where('seq', '=', row.seq)
      .execute();
  }
}

/** Nothing to undo: the old hub reads these events as well (it renders `log` and ignores versions). */
export async function down(): Promise<void> {}
