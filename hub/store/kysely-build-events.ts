// BuildEventStore on Kysely: a build's newest events, read backwards over the (build_id, seq) key.

import type { Kysely } from 'kysely';
import { toBuildEvent } from './rows.js';
import type { Database } from './schema.js';
import type { BuildEvent, BuildEventStore } from './store.js';

export class KyselyBuildEventStore implements BuildEventStore {
  constructor(private readonly db: Kysely<Database>) {}

  async tail(buildId: number, limit: number): Promise<BuildEvent[]> {
    if (limit <= 0) return [];
    const rows = await this.db
      .selectFrom('build_events')
      .selectAll()
      .where('build_id', '=', buildId)
      .orderBy('seq', 'desc')
      .limit(limit)
      .execute();
    return rows.reverse().map(toBuildEvent);
  }
}
