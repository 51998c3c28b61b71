// Where each step's log stands after each log event, written in the transaction that appends the events
// (build_log_positions, build_log_steps): reading a long log's positions then costs one small row per
// event instead of its text. The caller serializes appenders of a build (SQLite's single writer; the
// build row's lock on PostgreSQL), so reading a step's position and writing the next is safe.

import type { Compilable, Kysely, Transaction } from 'kysely';
import { advance, LOG_START, stepTextOf, type LogPosition } from '../log-text/log-position.js';
import type { CompiledQueries } from './compiled-queries.js';
import type { Database } from './schema.js';
import type { LogPositionRow } from './store.js';

type Db = Kysely<Database> | Transaction<Database>;

/** Rows per insert statement (at most 8 parameters each, well under SQLite's and PostgreSQL's limits). */
const INSERT_ROWS = 500;

/**
 * Inserts `rows` into `table`, each row the values of `columns` in order, INSERT_ROWS at a time. With
 * `compiled`, each statement is compiled once per table and row count (a log batch's usual few shapes)
 * rather than built by Kysely on every batch.
 */
export async function insertRows(
  db: Db,
  table: 'build_events' | 'build_log_positions',
  columns: readonly string[],
  rows: readonly unknown[][],
  compiled: CompiledQueries<Database> | undefined,
): Promise<void> {
  for (let i = 0; i < rows.length; i += INSERT_ROWS) {
    const part = rows.slice(i, i + INSERT_ROWS);
    const build = (...flat: unknown[]) =>
      db
        .insertInto(table)
        .values(
          part.map((_, r) =>
            Object.fromEntries(columns.map((c, k) => [c, flat[r * columns.length + k]])),
          ) as never,
        );
    const flat = part.flat();
    if (compiled) await compiled.executeOn(db, `insert ${table} ${part.length}`, build, ...flat);
    else await build(...flat).execute();
  }
}

const POSITION_COLUMNS = ['build_id', 'seq', 'step', 'line', 'partial', 'sgr'] as const;

interface StepState {
  buildId: number;
  step: string;
  at: LogPosition;
  /** Stored before this transaction (an update rather than an insert). */
  stored: boolean;
}

/** The positions of one transaction's log events, written together by `flush`. */
export class LogPositionWriter {
  private readonly steps = new Map<string, StepState>();
  /** POSITION_COLUMNS' values. */
  private readonly rows: unknown[][] = [];

  constructor(
    private readonly db: Db,
    /** Where the batch's statements are compiled once (undefined: built on every call). */
    private readonly compiled?: CompiledQueries<Database>,
  ) {}

  /** Advances the event's step past its text (`payload`: a log event's, kept apart); nothing for events of no step's log. */
  async add(buildId: number, seq: number, type: string, data: unknown, payload?: Buffer): Promise<void> {
    const logged = stepTextOf(type, data, payload);
    if (!logged) return;
    const state = await this.state(buildId, logged.step);
    state.at = advance(state.at, logged.text);
    this.rows.push([buildId, seq, logged.step, state.at.line, state.at.partial ? 1 : 0, state.at.sgr]);
  }

  async flush(): Promise<void> {
    const db = this.db;
    await insertRows(db, 'build_log_positions', POSITION_COLUMNS, this.rows, this.compiled);
    for (const s of this.steps.values()) {
      const args = [s.buildId, s.step, s.at.line, s.at.partial ? 1 : 0, s.at.sgr, s.at.unfinished] as const;
      if (s.stored) await this.run('update step position', updateStep, ...args);
      else await this.run('insert step position', insertStep, ...args);
    }
    this.rows.length = 0;
    this.steps.clear();
  }

  /** `build`'s statement on this writer's transaction, compiled once when it can be. */
  private async run<R, A extends unknown[]>(
    shape: string,
    build: (db: Db, ...args: A) => Compilable<R>,
    ...args: A
  ): Promise<R[]> {
    const db = this.db;
    const query = (...a: A) => build(db, ...a);
    const result = this.compiled
      ? await this.compiled.executeOn(db, shape, query, ...args)
      : await db.executeQuery(query(...args).compile());
    return result.rows;
  }

  private async state(buildId: number, step: string): Promise<StepState> {
    const key = `${buildId} ${step}`;
    let state = this.steps.get(key);
    if (!state) {
      const [row] = await this.run('step position', selectStep, buildId, step);
      state = {
        buildId,
        step,
        at: row ? { ...row, partial: row.partial !== 0 } : LOG_START,
        stored: row !== undefined,
      };
      this.steps.set(key, state);
    }
    return state;
  }
}

/** The positions of a build's log events with seq > afterSeq, ascending, at most `limit`. */
export async function readLogPositions(
  db: Db,
  buildId: number,
  afterSeq: number,
  limit: number,
): Promise<LogPositionRow[]> {
  const rows = await db
    .selectFrom('build_log_positions')
    .select(['seq', 'step', 'line', 'partial', 'sgr'])
    .where('build_id', '=', buildId)
    .where('seq', '>', afterSeq)
    .orderBy('seq')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ seq: r.seq, step: r.step, line: r.line, partial: r.partial !== 0, sgr: r.sgr }));
}

const selectStep = (db: Db, buildId: number, step: string) =>
  db
    .selectFrom('build_log_steps')
    .select(['line', 'partial', 'sgr', 'unfinished'])
    .where('build_id', '=', buildId)
    .where('step', '=', step);

type StepArgs = [
  buildId: number,
  step: string,
  line: number,
  partial: number,
  sgr: string,
  unfinished: string,
];

const updateStep = (db: Db, ...[buildId, step, line, partial, sgr, unfinished]: StepArgs) =>
  db
    .updateTable('build_log_steps')
    .set({ line, partial, sgr, unfinished })
    .where('build_id', '=', buildId)
    .where('step', '=', step);

const insertStep = (db: Db, ...[buildId, step, line, partial, sgr, unfinished]: StepArgs) =>
  db.insertInto('build_log_steps').values({ build_id: buildId, step, line, partial, sgr, unfinished });
