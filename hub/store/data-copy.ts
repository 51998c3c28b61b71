// `outpost-hub migrate-data`: moves a hub from SQLite (one machine) to PostgreSQL (replicas). Both
// databases are first migrated to this version's schema, which is the same on both (integer booleans,
// JSON as text, bigint milliseconds), so every row is copied as it is: ids, hashes of tokens and
// passwords, and secrets encrypted at rest (the hubs on PostgreSQL need the same --encryption-key).
//
// The copy is one PostgreSQL transaction: the target must hold nothing but what migrations seed (the
// `main` team), and a failure part way leaves it as it was. Tables are copied parents first (from
// SQLite's foreign keys; a key closing a cycle, a pipeline's parent job, is filled in at the end), rows
// in rowid order (a row referring to an earlier row of its own table, a rerun to its build, comes after
// it), and PostgreSQL's identity sequences are then moved past the copied ids, so the next build or
// token gets a fresh one.

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

/** A foreign key column filled in after every table is copied: it closes a cycle (pipelines <-> jobs). */
interface LateColumn {
  table: string;
  column: string;
  /** The table's primary key column, to find the row again. */
  key: string;
}

/**
 * The source's tables (without the migrator's own), parents before the tables that refer to them. A
 * foreign key that closes a cycle is left out of the order and copied late (LateColumn).
 */
async function copyPlan(source: Db): Promise<{ tables: string[]; late: LateColumn[] }> {
  const { rows } = await sql<{ name: string }>`
    SELECT name FROM sqlite_master
    WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'kysely_%'
    ORDER BY name`.execute(source);
  const parents = new Map<string, { column: string; parent: string }[]>();
  for (const { name } of rows) {
    const fks = await sql<{ from: string; table: string }>`
      SELECT "from", "table" FROM pragma_foreign_key_list(${name})`.execute(source);
    parents.set(
      name,
      fks.rows.map((fk) => ({ column: fk.from, parent: fk.table })),
    );
  }
  const tables: string[] = [];
  const late: LateColumn[] = [];
  const visit = async (table: string, path: string[]) => {
    if (tables.includes(table)) return;
    for (const { column, parent } of parents.get(table) ?? []) {
      // A row referring to its own table refers to an earlier row: rowid order copies that one first.
      if (parent === table || !parents.has(parent)) continue;
      if (path.includes(parent)) late.push({ table, column, key: await primaryKey(source, table) });
      else await visit(parent, [...path, table]);
    }
    if (!tables.includes(table)) tables.push(table);
  };
  for (const table of parents.keys()) await visit(table, [table]);
  return { tables, late };
}

async function primaryKey(source: Db, table: string): Promise<string> {
  const { rows } = await sql<{ name: string }>`
    SELECT name FROM pragma_table_info(${table}) WHERE pk > 0`.execute(source);
  const [key] = rows;
  if (rows.length !== 1 || !key) throw new Error(`table ${table} has no single-column primary key`);
  return key.name;
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

async function copyTable(
  source: Db,
  target: Transaction<Database>,
  table: string,
  lateColumns: string[],
): Promise<number> {
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
    const values = rows.map(({ _rowid, ...row }) => {
      for (const column of lateColumns) row[column] = null;
      return row;
    });
    await target
      .insertInto(table as keyof Database)
      .values(values)
      .execute();
    copied += rows.length;
  }
}

/** Fills the foreign keys left out of the first pass, now that every row they may refer to is there. */
async function copyLate(source: Db, target: Transaction<Database>, { table, column, key }: LateColumn) {
  const { rows } = await sql<{ key: unknown; value: unknown }>`
    SELECT ${sql.ref(key)} AS key, ${sql.ref(column)} AS value FROM ${sql.table(table)}
    WHERE ${sql.ref(column)} IS NOT NULL`.execute(source);
  for (const row of rows)
    await sql`UPDATE ${sql.table(table)} SET ${sql.ref(column)} = ${row.value}
      WHERE ${sql.ref(key)} = ${row.key}`.execute(target);
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
  const { tables, late } = await copyPlan(source);
  return target.transaction().execute(async (trx) => {
    const present = await targetTables(trx);
    const missing = tables.filter((t) => !present.has(t));
    if (missing.length > 0)
      throw new Error(
        `the target database has no table ${missing.join(', ')}: it is not migrated like the source`,
      );
    await emptyTarget(trx, tables);
    const copied: CopiedTable[] = [];
    for (const table of tables) {
      const lateColumns = late.filter((l) => l.table === table).map((l) => l.column);
      copied.push({ table, rows: await copyTable(source, trx, table, lateColumns) });
    }
    for (const column of late) await copyLate(source, trx, column);
    await advanceSequences(trx);
    return copied;
  });
}
