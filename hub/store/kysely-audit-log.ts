// AuditLogStore on Kysely: one row per state-changing request or login, pruned by age.

import type { Kysely, Selectable } from 'kysely';
import { chunks } from '../../common/chunks.js';
import { num } from './rows.js';
import type { AuditLogTable, Database } from './schema.js';
import type { AuditEntry, AuditFilter, AuditLogStore } from './store.js';

function toEntry(row: Selectable<AuditLogTable>): AuditEntry {
  return { ...row, at: num(row.at) };
}

/** 7 parameters a row: well under SQLite's and PostgreSQL's bound-parameter limits per statement. */
const ROWS_PER_INSERT = 500;

/** Entries waiting for their shared insert, and who waits for each. */
interface Batch {
  entries: Omit<AuditEntry, 'id'>[];
  done: Promise<void>;
}

export class KyselyAuditLog implements AuditLogStore {
  private batch: Batch | undefined;

  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Entries recorded in one event-loop turn share one insert and one commit (a busy hub answers many
   * requests per turn; each used to cost a commit of its own). It resolves once its entry is stored.
   */
  record(entry: Omit<AuditEntry, 'id'>): Promise<void> {
    if (this.batch) {
      this.batch.entries.push(entry);
      return this.batch.done;
    }
    const entries = [entry];
    const done = new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
      this.batch = undefined;
      for (const rows of chunks(entries, ROWS_PER_INSERT))
        await this.db.insertInto('audit_log').values(rows).execute();
    });
    this.batch = { entries, done };
    return done;
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
