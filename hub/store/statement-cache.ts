// Kysely's SQLite driver prepares every statement it runs. The store runs the same few SQL texts over
// and over (thousands of log appends a second), so keep the prepared statements, least recently used
// out first. Safe because the driver runs one statement at a time on its single connection. The
// transactions' own statements (begin, commit, rollback) go to the connection's commit batch
// (commit-batch.ts), which may keep a commit for later writes to share.

import type BetterSqlite3 from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';
import { CommitBatch, type ControlStatement } from './commit-batch.js';

export function withStatementCache(
  db: BetterSqlite3.Database,
  capacity = 256,
): SqliteDatabase & { batch: CommitBatch } {
  const cache = new Map<string, BetterSqlite3.Statement>();
  const batch = new CommitBatch(db);
  const control = (statement: ControlStatement): SqliteStatement => ({
    reader: false,
    run: () => {
      batch.control(statement);
      return { changes: 0, lastInsertRowid: 0 };
    },
    all: () => [],
    iterate: () => [][Symbol.iterator](),
  });
  const controls = new Map<string, SqliteStatement>(
    (['begin', 'commit', 'rollback'] as const).map((s) => [s, control(s)]),
  );
  return {
    batch,
    close: () => {
      batch.flush();
      db.close();
    },
    prepare(sql) {
      const own = controls.get(sql);
      if (own) return own;
      let stmt = cache.get(sql);
      if (stmt === undefined) {
        stmt = db.prepare(sql);
        if (cache.size >= capacity) {
          const oldest = cache.keys().next();
          if (oldest.done !== true) cache.delete(oldest.value);
        }
      } else {
        cache.delete(sql);
      }
      cache.set(sql, stmt);
      // Kysely runs the statement right after preparing it.
      batch.beforeStatement(stmt.readonly);
      return stmt;
    },
  };
}
