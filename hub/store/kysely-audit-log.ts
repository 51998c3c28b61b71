// AuditLogStore on Kysely: one row per state-changing request or login, pruned by age.

import type { Kysely, Selectable } from 'kysely';
import { num } from './rows.js';
import type { AuditLogTable, Database } from './schema.js';
import type { AuditEntry, AuditFilter, AuditLogStore } from './store.js';

function toEntry(row: Selectable<AuditLogTable>): AuditEntry {
  return { ...row, at: num(row.at) };
}

export class KyselyAuditLog implements AuditLogStore {
  constructor(private readonly db: Kysely<Database>) {}

  async record(entry: Omit<AuditEntry, 'id'>): Promise<void> {
    await this.db.insertInto('audit_log').values(entry).execute();
  }

  async list(filter: AuditFilter): Promise<AuditEntry[]> {
    let query = this.db.selectFrom('audit_log').selectAll();
    if (filter.teams) {
      // `in ()` is not valid SQL: no team matches nothing.
      if (filter.teams.length === 0) return [];
      query = query.where('team', 'in', filter.teams);
    }
    if (filter.actor !== undefined) query = query.where('actor', '=', filter.actor);
    if (filter.since !== undefined) query = query.where('at', '>=', filter.since);
    const rows = await query.orderBy('id', 'desc').limit(filter.limit).execute();
    return rows.map(toEntry);
  }

  async prune(before: number): Promise<number> {
    const res = await this.db.deleteFrom('audit_log').where('at', '<', before).executeTakeFirst();
    return Number(res.numDeletedRows);
  }
}
