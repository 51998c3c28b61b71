// Where each step's log stands after each log event, written in the transaction that appends the events
// (build_log_positions, build_log_steps): reading a long log's positions then costs one small row per
// event instead of its text. The caller serializes appenders of a build (SQLite's single writer; the
// build row's lock on PostgreSQL), so reading a step's position and writing the next is safe.

import type { Insertable, Kysely, Transaction } from 'kysely';
import { advance, LOG_START, stepTextOf, type LogPosition } from '../log-text/log-position.js';
import type { BuildLogPositionsTable, Database } from './schema.js';
import type { LogPositionRow } from './store.js';

type Db = Kysely<Database> | Transaction<Database>;

/** Rows per insert statement (6 parameters each, well under SQLite's and PostgreSQL's limits). */
const INSERT_ROWS = 500;

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
  private readonly rows: Insertable<BuildLogPositionsTable>[] = [];

  constructor(private readonly db: Db) {}

  /** Advances the event's step past its text (`payload`: a log event's, kept apart); nothing for events of no step's log. */
  async add(buildId: number, seq: number, type: string, data: unknown, payload?: Buffer): Promise<void> {
    const logged = stepTextOf(type, data, payload);
    if (!logged) return;
    const state = await this.state(buildId, logged.step);
    state.at = advance(state.at, logged.text);
    this.rows.push({
      build_id: buildId,
      seq,
      step: logged.step,
      line: state.at.line,
      partial: state.at.partial ? 1 : 0,
      sgr: state.at.sgr,
    });
  }

  async flush(): Promise<void> {
    for (let i = 0; i < this.rows.length; i += INSERT_ROWS)
      await this.db
        .insertInto('build_log_positions')
        .values(this.rows.slice(i, i + INSERT_ROWS))
        .execute();
    for (const s of this.steps.values()) {
      const values = {
        line: s.at.line,
        partial: s.at.partial ? 1 : 0,
        sgr: s.at.sgr,
        unfinished: s.at.unfinished,
      };
      if (s.stored)
        await this.db
          .updateTable('build_log_steps')
          .set(values)
          .where('build_id', '=', s.buildId)
          .where('step', '=', s.step)
          .execute();
      else
        await this.db
          .insertInto('build_log_steps')
          .values({ build_id: s.buildId, step: s.step, ...values })
          .execute();
    }
    this.rows.length = 0;
    this.steps.clear();
  }

  private async state(buildId: number, step: string): Promise<StepState> {
    const key = `${buildId} ${step}`;
    let state = this.steps.get(key);
    if (!state) {
      const row = await this.db
        .selectFrom('build_log_steps')
        .select(['line', 'partial', 'sgr', 'unfinished'])
        .where('build_id', '=', buildId)
        .where('step', '=', step)
        .executeTakeFirst();
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
