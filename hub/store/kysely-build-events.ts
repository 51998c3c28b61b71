// BuildEventStore on Kysely: reads of a build's event log beyond the in-order replay, over the
// (build_id, seq) key: backwards from a seq, and the events other than log output.

import type { Kysely } from 'kysely';
import { toBuildEvent } from './rows.js';
import type { Database } from './schema.js';
import type { BuildEvent, BuildEventStore } from './store.js';

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
}
