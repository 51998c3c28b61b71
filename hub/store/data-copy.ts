// `outpost-hub migrate-data`: moves a hub from SQLite (one machine) to PostgreSQL (replicas). Both
// databases are first migrated to this version's schema, which is the same on both (integer booleans,
// JSON as text, bigint milliseconds), so every row is copied as it is: ids, hashes of tokens and
// passwords, and secrets encrypted at rest (the hubs on PostgreSQL need the same --encryption-key).
//
// The copy is one PostgreSQL transaction: the target must hold nothing but what migrations seed (the
// `main` team), and a failure part way leaves it as it was. Tables are copied parents first (from
// SQLite's foreign keys), rows in rowid order (a row referring to an earlier row of its own table, a
// rerun to its build, comes after it), and PostgreSQL's identity sequences are then moved past the
// copied ids, so the next build or token gets a fresh one.

import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from './schema.js';

/** Rows per INSERT: well below PostgreSQL's 65535 parameters for the widest table. */
const BATCH_ROWS = 200;

export interface CopiedTable {
  table: string;
  rows: number;
}

/** The target already has data: copying into it would mix two hubs' records. */
export class TargetNotEmptyError extends Error {
  override readonly name = 'TargetNotEmptyError';
}

type Db = Kysely<Database>;
type Row = Record<string, unknown>;

/** The source's tables (without the migrator's own), parents before the tables that refer to them. */
async function tablesInCopyOrder(source: Db): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`
    SELECT name FROM sqlite_master
    WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'kysely_%'
    ORDER BY name`.execute(source);
  const parents = new Map<string, Set<string>>();
  for (const { name } of rows) {
    const fks = await sql<{ table: string }>`SELECT "table" FROM pragma_foreign_key_list(${name})`.execute(
      source,
    );
    parents.set(name, new Set(fks.rows.map((fk) => fk.table).filter((t) => t !== name)));
  }
  const ordered: string[] = [];
  const visit = (table: string, path: string[]) => {
    if (ordered.includes(table)) return;
    if (path.includes(table)) throw new Error(`foreign keys form a cycle: ${[...path, table].join(' -> ')}`);
    for (const parent of parents.get(table) ?? []) if (parents.has(parent)) visit(parent, [...path, table]);
    ordered.push(table);
  };
  for (const table of parents.keys()) visit(table, []);
  return ordered;
}

async function targetTables(target: Transaction<Database>): Promise<Set<string>> {
  const { rows } = await sql<{ name: string }>`
    SELECT table_name AS name FROM information_schema.tables
    WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`.execute(target);
  return new Set(rows.map((r) => r.name));
}

/** Refuses a target with records of its own; removes what migrations seeded (the source has its own). */
async function emptyTarget(target: Transaction<Database>, tables: string[]): Promise<void> {
  const used: string[] = [];
  for (const table of tables) {
    const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM ${sql.table(table)}`.execute(target);
    const n = Number(rows[0]?.n ?? 0);
    const seeded =
      table === 'teams' &&
      n === 1 &&
      (await sql`SELECT 1 FROM teams WHERE name = 'main'`.execute(target)).rows.length === 1;
    if (n > 0 && !seeded) used.push(`${table} (${n} rows)`);
  }
  if (used.length > 0)
    throw new TargetNotEmptyError(
      `the target database is not empty: ${used.join(', ')}; migrate-data copies into a new, empty database only`,
    );
  await sql`DELETE FROM teams`.execute(target);
}

async function copyTable(source: Db, target: Transaction<Database>, table: string): Promise<number> {
  let copied = 0;
  let after = Number.MIN_SAFE_INTEGER;
  for (;;) {
    // Keyset paging on rowid: steady memory whatever the table's size (build events can be gigabytes).
    const { rows } = await sql<Row & { _rowid: number }>`
      SELECT rowid AS _rowid, * FROM ${sql.table(table)} WHERE rowid > ${after} ORDER BY rowid LIMIT ${BATCH_ROWS}`.execute(
      source,
    );
    const last = rows.at(-1);
    if (!last) return copied;
    after = last._rowid;
    const values = rows.map(({ _rowid, ...row }) => row);
    await target
      .insertInto(table as keyof Database)
      .values(values)
      .execute();
    copied += rows.length;
  }
}

/** Moves every identity sequence past the largest id copied into its column. */
async function advanceSequences(target: Transaction<Database>): Promise<void> {
  const { rows } = await sql<{ table: string; column: string }>`
    SELECT table_name AS "table", column_name AS "column" FROM information_schema.columns
    WHERE table_schema = current_schema() AND is_identity = 'YES'`.execute(target);
  for (const { table, column } of rows)
    await sql`SELECT setval(pg_get_serial_sequence(${table}, ${column}),
      coalesce((SELECT max(${sql.ref(column)}) FROM ${sql.table(table)}), 0) + 1, false)`.execute(target);
}

/**
 * Copies every row of `source` (SQLite) into `target` (PostgreSQL), both migrated to the same version.
 * Throws a TargetNotEmptyError, and changes nothing, when the target holds records already.
 */
export async function copySqliteToPostgres(source: Db, target: Db): Promise<CopiedTable[]> {
  const tables = await tablesInCopyOrder(source);
  return target.transaction().execute(async (trx) => {
    const present = await targetTables(trx);
    const missing = tables.filter((t) => !present.has(t));
    if (missing.length > 0)
      throw new Error(
        `the target database has no table ${missing.join(', ')}: it is not migrated like the source`,
      );
    await emptyTarget(trx, tables);
    const copied: CopiedTable[] = [];
    for (const table of tables) copied.push({ table, rows: await copyTable(source, trx, table) });
    await advanceSequences(trx);
    return copied;
  });
}
