// BuildEventStore on Kysely: reads of a build's event log beyond the in-order replay, over the
// (build_id, seq) key: backwards from a seq, the events other than log output, and where each step's
// log stands after each log event.

import type { Kysely } from 'kysely';
import { toBuildEvent } from './rows.js';
import type { Database } from './schema.js';
import { readLogPositions } from './kysely-log-positions.js';
import type { BuildEvent, BuildEventStore, LogPositionRow } from './store.js';

export class KyselyBuildEventStore implements BuildEventStore {
  constructor(private readonly db: Kysely<Database>) {}

  tail(buildId: number, limit: number): Promise<BuildEvent[]> {
    return this.before(buildId, Number.MAX_SAFE_INTEGER, limit);
  }

  async before(buildId: number, beforeSeq: number, limit: number): Promise<BuildEvent[]> {
    if (limit <= 0) return [];
    const rows = await this.db
      .selectFrom('build_events')
      .selectAll()
      .where('build_id', '=', buildId)
      .where('seq', '<', beforeSeq)
      .orderBy('seq', 'desc')
      .limit(limit)
      .execute();
    return rows.reverse().map(toBuildEvent);
  }

  async withoutLogs(buildId: number, afterSeq: number, limit: number): Promise<BuildEvent[]> {
    const rows = await this.db
      .selectFrom('build_events')
      .selectAll()
      .where('build_id', '=', buildId)
      .where('seq', '>', afterSeq)
      .where('type', '!=', 'log')
      .orderBy('seq')
      .limit(limit)
      .execute();
    return rows.map(toBuildEvent);
  }

  logPositions(buildId: number, afterSeq: number, limit: number): Promise<LogPositionRow[]> {
    return readLogPositions(this.db, buildId, afterSeq, limit);
  }

  async hasLogPositions(buildId: number): Promise<boolean> {
    const row = await this.db
      .selectFrom('build_log_unindexed')
      .select('build_id')
      .where('build_id', '=', buildId)
      .executeTakeFirst();
    return row === undefined;
  }
}
