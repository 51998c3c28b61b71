// The Store's build events and logs on Kysely: each build's events numbered by one gap-free seq, and
// log chunks appended in batches with their step's log_seq fence and the build's log size cap, and, for
// every event with a step's log text, where that step's log stands after it (kysely-log-positions.ts).

import type { Compilable, Kysely, Transaction } from 'kysely';
import type { CommitBatch } from './commit-batch.js';
import { CompiledQueries } from './compiled-queries.js';
import { conflictsAs } from './constraint-errors.js';
import { insertRows, LogPositionWriter } from './kysely-log-positions.js';
import { eventWithPayload } from '../log-text/log-payload.js';
import { stepTextOf } from '../log-text/log-position.js';
import { json, toBuildEvent } from './rows.js';
import type { Database } from './schema.js';
import { StoreConflictError } from './store.js';
import type {
  BuildEvent,
  LogAppend,
  LogAppendOptions,
  LogAppendResult,
  NewBuildEvent,
  Store,
  WriteOptions,
} from './store.js';

type Db = Kysely<Database> | Transaction<Database>;
type EventInput = { type: string; version: string; data: unknown; at: number };

/**
 * Inserts an event with the build's next seq, computed in the same statement (max + 1 over the
 * (build_id, seq) primary key), which is atomic on SQLite's single writer. On PostgreSQL the caller
 * holds the build's row lock (lockBuilds), so concurrent appenders cannot pick the same seq.
 * `compiled`: the statement is built once there (the hot path: events announcing a state change).
 */
async function insertEvent(
  db: Db,
  buildId: number,
  event: EventInput,
  compiled?: CompiledQueries<Database>,
): Promise<BuildEvent> {
  const data = json(event.data);
  const insert = (build: number, type: string, version: string, json: string, at: number) =>
    db
      .insertInto('build_events')
      .values((eb) => ({
        build_id: build,
        seq: eb
          .selectFrom('build_events')
          .select((sb) => sb(sb.fn.coalesce(sb.fn.max('seq'), sb.lit(0)), '+', 1).as('next'))
          .where('build_id', '=', build),
        type,
        version,
        data: json,
        at,
      }))
      .returning('seq');
  const args = [buildId, event.type, event.version, data, event.at] as const;
  // Only the allocated seq comes back: the rest is what the caller gave (no re-parse on the hot path).
  const row = compiled
    ? (await compiled.executeOn(db, 'insert event', insert, ...args)).rows[0]
    : await insert(...args).executeTakeFirst();
  if (!row) throw new Error(`build ${buildId}: the event was not inserted`);
  return { buildId, seq: row.seq, type: event.type, version: event.version, json: data, at: event.at };
}

const EVENT_COLUMNS = ['build_id', 'seq', 'type', 'version', 'data', 'at', 'payload'] as const;

/**
 * A transaction's events at seqs it allocated (having read the builds' max seq), inserted together by
 * `flush`: a batch of log chunks costs one statement, not one per chunk. A log event's `payload` bytes
 * go in a column of their own, as they are.
 */
class EventRows {
  /** EVENT_COLUMNS' values. */
  private readonly rows: unknown[][] = [];

  add(buildId: number, seq: number, event: EventInput, payload?: Buffer): BuildEvent {
    const data = json(event.data);
    const { type, version, at } = event;
    this.rows.push([buildId, seq, type, version, data, at, payload ?? null]);
    const fields = { buildId, seq, type, version, at };
    return payload ? eventWithPayload(fields, data, payload) : { ...fields, json: data };
  }

  async flush(db: Db, compiled: CompiledQueries<Database>): Promise<void> {
    await insertRows(db, 'build_events', EVENT_COLUMNS, this.rows, compiled);
    this.rows.length = 0;
  }
}

/**
 * PostgreSQL: takes the row locks that order concurrent writers of the builds' event seqs and log usage
 * (SQLite has one writer at a time). Ascending ids, so two transactions never wait on each other in a
 * cycle. NO KEY UPDATE: inserts that only reference the rows (foreign keys) need not wait.
 */
async function lockBuilds(trx: Transaction<Database>, ids: number[]): Promise<void> {
  if (ids.length === 0) return;
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  await trx
    .selectFrom('builds')
    .select('id')
    .where('id', 'in', sorted)
    .orderBy('id')
    .forNoKeyUpdate()
    .execute();
}

/** As lockBuilds, for step runs (their log_seq); returns the builds they belong to. */
async function lockStepRuns(trx: Transaction<Database>, ids: number[]): Promise<number[]> {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  const rows = await trx
    .selectFrom('step_runs')
    .select('build_id')
    .where('id', 'in', sorted)
    .orderBy('id')
    .forNoKeyUpdate()
    .execute();
  return rows.map((r) => r.build_id);
}

/**
 * Stores events, each with its build's next seq and its log position, inside the caller's transaction
 * (appendBuildEvent, and the events a state change announces: store.ts Announcement).
 */
export async function insertEvents(
  trx: Transaction<Database>,
  rowLocks: boolean,
  events: NewBuildEvent[],
  compiled?: CompiledQueries<Database>,
): Promise<BuildEvent[]> {
  if (rowLocks)
    await lockBuilds(
      trx,
      events.map((e) => e.buildId),
    );
  const positions = new LogPositionWriter(trx, compiled);
  const stored: BuildEvent[] = [];
  for (const { buildId, ...event } of events) {
    const one = await insertEvent(trx, buildId, event, compiled);
    await positions.add(buildId, one.seq, event.type, event.data);
    stored.push(one);
  }
  await positions.flush();
  return stored;
}

export class KyselyBuildLog implements Pick<
  Store,
  'appendBuildEvent' | 'appendLog' | 'appendLogs' | 'listBuildEvents'
> {
  /** The log batch's statements, compiled once per shape (a row count for the inserts). */
  private readonly compiled: CompiledQueries<Database>;

  constructor(
    private readonly db: Kysely<Database>,
    /** Lock the build and step rows first (PostgreSQL); SQLite's single writer needs no locks. */
    private readonly rowLocks: boolean,
    /** SQLite: where a write with `deferCommit` leaves its commit (commit-batch.ts). */
    private readonly batch?: CommitBatch,
  ) {
    this.compiled = new CompiledQueries(db);
  }

  async appendBuildEvent(buildId: number, event: EventInput, write?: WriteOptions): Promise<BuildEvent> {
    const logged = stepTextOf(event.type, event.data) !== undefined;
    const deferTo = write?.deferCommit ? this.batch : undefined;
    // On SQLite a single statement, so atomic on its own: no explicit transaction on the hot path. A
    // single write outside a transaction commits the batch first (commit-batch.ts), so a deferred one
    // joins it in a transaction of its own.
    return conflictsAs(`event for build ${buildId}`, async () =>
      this.rowLocks || logged || deferTo
        ? ((
            await this.db.transaction().execute(async (trx) => {
              const stored = await insertEvents(trx, this.rowLocks, [{ buildId, ...event }]);
              deferTo?.deferCommit();
              return stored;
            })
          )[0] as BuildEvent)
        : insertEvent(this.db, buildId, event),
    );
  }

  async appendLog(input: LogAppend): Promise<LogAppendResult> {
    const [result] = await this.appendLogs([input]);
    if (!result) throw new Error('appendLogs returned no result');
    return result;
  }

  /**
   * One transaction for the whole batch. Each step run's log_seq and each build's next event seq and log
   * usage are read once, advanced in memory chunk by chunk, and written once at the end: a batch of n
   * chunks costs n inserts plus a few statements per step and build, not 2n statements and n commits.
   * SQLite's single writer makes the read-then-write safe; on PostgreSQL the step run and build rows
   * are locked first, in id order.
   */
  async appendLogs(inputs: LogAppend[], options: LogAppendOptions = {}): Promise<LogAppendResult[]> {
    if (inputs.length === 0) return [];
    const cap = options.maxBuildLogBytes;
    return conflictsAs(`log of step run ${inputs[0]?.stepRunId}`, () =>
      this.db.transaction().execute(async (trx): Promise<LogAppendResult[]> => {
        if (this.rowLocks)
          await lockBuilds(
            trx,
            await lockStepRuns(
              trx,
              inputs.map((i) => i.stepRunId),
            ),
          );
        const steps = new Map<number, { buildId: number; logSeq: number; initial: number }>();
        const builds = new Map<
          number,
          { nextSeq: number; bytes: number; truncated: boolean; dirty: boolean }
        >();
        const results: LogAppendResult[] = [];
        const compiled = this.compiled;
        const run = async <R, A extends unknown[]>(
          shape: string,
          build: (db: Db, ...args: A) => Compilable<R>,
          ...args: A
        ): Promise<R | undefined> =>
          (await compiled.executeOn(trx, shape, (...a: A) => build(trx, ...a), ...args)).rows[0];
        const positions = new LogPositionWriter(trx, compiled);
        const rows = new EventRows();
        const insert = async (
          buildId: number,
          seq: number,
          event: Omit<EventInput, 'at'>,
          at: number,
          payload?: Buffer,
        ) => {
          await positions.add(buildId, seq, event.type, event.data, payload);
          return rows.add(buildId, seq, { ...event, at }, payload);
        };
        for (const input of inputs) {
          let step = steps.get(input.stepRunId);
          if (!step) {
            const row = await run('log step run', selectStepRun, input.stepRunId);
            if (row === undefined) throw new StoreConflictError(`step run ${input.stepRunId} does not exist`);
            step = { buildId: row.build_id, logSeq: row.log_seq, initial: row.log_seq };
            steps.set(input.stepRunId, step);
          }
          if (input.seq <= step.logSeq) {
            results.push({ kind: 'duplicate' });
            continue;
          }
          if (input.seq > step.logSeq + 1) {
            results.push({ kind: 'gap', logSeq: step.logSeq });
            continue;
          }
          step.logSeq = input.seq;
          let build = builds.get(step.buildId);
          if (!build) {
            const row = await run('log build', selectBuildLog, step.buildId);
            if (row === undefined) throw new StoreConflictError(`build ${step.buildId} does not exist`);
            build = {
              nextSeq: (row.max_seq ?? 0) + 1,
              bytes: Number(row.log_bytes),
              truncated: row.log_truncated !== 0,
              dirty: false,
            };
            builds.set(step.buildId, build);
          }
          const bytes = input.bytes ?? 0;
          if (cap !== undefined && (build.truncated || build.bytes + bytes > cap)) {
            let marker: BuildEvent | undefined;
            if (!build.truncated) {
              build.truncated = true;
              build.dirty = true;
              if (options.truncationMarker)
                marker = await insert(
                  step.buildId,
                  build.nextSeq++,
                  options.truncationMarker(input),
                  input.at,
                );
            }
            results.push({ kind: 'truncated', marker });
            continue;
          }
          build.bytes += bytes;
          build.dirty = build.dirty || bytes > 0;
          const event = await insert(step.buildId, build.nextSeq++, input.event, input.at, input.payload);
          results.push({ kind: 'stored', event });
        }
        await rows.flush(trx, compiled);
        await positions.flush();
        for (const [id, step] of steps) {
          if (step.logSeq !== step.initial) await run('log seq', updateLogSeq, id, step.logSeq);
        }
        for (const [id, build] of builds) {
          if (build.dirty) await run('log usage', updateLogUsage, id, build.bytes, build.truncated ? 1 : 0);
        }
        return results;
      }),
    );
  }

  async listBuildEvents(buildId: number, afterSeq: number, limit: number): Promise<BuildEvent[]> {
    if (limit <= 0) return [];
    const rows = await this.db
      .selectFrom('build_events')
      .selectAll()
      .where('build_id', '=', buildId)
      .where('seq', '>', afterSeq)
      .orderBy('seq')
      .limit(limit)
      .execute();
    return rows.map(toBuildEvent);
  }
}

// The log batch's reads and updates, compiled once (KyselyBuildLog.compiled).

const selectStepRun = (db: Db, id: number) =>
  db.selectFrom('step_runs').select(['build_id', 'log_seq']).where('id', '=', id);

const selectBuildLog = (db: Db, buildId: number) =>
  db
    .selectFrom('builds')
    .select((eb) => [
      'log_bytes',
      'log_truncated',
      eb
        .selectFrom('build_events')
        .select((sb) => sb.fn.coalesce(sb.fn.max('seq'), sb.lit(0)).as('m'))
        .where('build_id', '=', buildId)
        .as('max_seq'),
    ])
    .where('id', '=', buildId);

const updateLogSeq = (db: Db, id: number, logSeq: number) =>
  db.updateTable('step_runs').set({ log_seq: logSeq }).where('id', '=', id);

const updateLogUsage = (db: Db, id: number, bytes: number, truncated: number) =>
  db.updateTable('builds').set({ log_bytes: bytes, log_truncated: truncated }).where('id', '=', id);
