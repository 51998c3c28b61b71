// The Store's step runs on Kysely: each step of a build, fenced by its lease id on every update.

import type { ExpressionBuilder, Insertable, Kysely, Updateable } from 'kysely';
import type { CommitBatch } from './commit-batch.js';
import { CompiledQueries } from './compiled-queries.js';
import { conflictsAs } from './constraint-errors.js';
import { withAnnouncement } from './kysely-announcements.js';
import { json, toStepRun } from './rows.js';
import type { Database, StepRunsTable } from './schema.js';
import type { Announcement, NewStepRun, StepRun, StepRunStatus, Store, WriteOptions } from './store.js';

type StepRunPatch = Parameters<Store['updateStepRun']>[2];

/** The columns createStepRun sets, in the order of its arguments. */
const INSERTED = [
  'build_id',
  'plan_id',
  'name',
  'status',
  'spec',
  'created_at',
  'lease_id',
  'agent_name',
  'pool',
] as const satisfies readonly (keyof StepRunsTable)[];

/** The fence of updateStepRun: SQL's `=` never matches NULL, so "no lease" needs IS NULL. */
function leaseIs(eb: ExpressionBuilder<Database, 'step_runs'>, lease: string | null) {
  return lease === null ? eb('lease_id', 'is', null) : eb('lease_id', '=', lease);
}

function stepRunChanges(patch: StepRunPatch): Updateable<StepRunsTable> {
  const set: Updateable<StepRunsTable> = {};
  if (patch.status !== undefined) set.status = patch.status;
  if (patch.leaseId !== undefined) set.lease_id = patch.leaseId;
  if (patch.agentName !== undefined) set.agent_name = patch.agentName;
  if (patch.pool !== undefined) set.pool = patch.pool;
  if (patch.exitStatus !== undefined) set.exit_status = patch.exitStatus;
  if (patch.error !== undefined) set.error = patch.error;
  if (patch.startedAt !== undefined) set.started_at = patch.startedAt;
  if (patch.endedAt !== undefined) set.ended_at = patch.endedAt;
  if (patch.logSeq !== undefined) set.log_seq = patch.logSeq;
  if (patch.result !== undefined) set.result = patch.result === null ? null : json(patch.result);
  return set;
}

export class KyselyStepRuns implements Pick<
  Store,
  | 'createStepRun'
  | 'getStepRun'
  | 'getStepRunByLease'
  | 'listStepRuns'
  | 'listStepRunsByStatus'
  | 'markStepProcessStarted'
  | 'updateStepRun'
> {
  /** The step-run queries a step makes several of (by id, the lease-fenced updates), compiled once. */
  private readonly compiled: CompiledQueries<Database>;

  constructor(
    private readonly db: Kysely<Database>,
    /** Lock the build rows of announced events first (PostgreSQL): kysely-build-log.ts. */
    private readonly rowLocks: boolean,
    /** SQLite: where a write with `deferCommit` leaves its commit (commit-batch.ts). */
    private readonly batch?: CommitBatch,
  ) {
    this.compiled = new CompiledQueries(db);
  }

  async createStepRun(
    input: NewStepRun,
    announcement?: Announcement,
    write?: WriteOptions,
  ): Promise<StepRun> {
    const { assigned, startsBuild } = input;
    if (startsBuild && !announcement?.events.length)
      throw new Error(`build ${input.buildId}: its start is stored with its status event`);
    const { rows } = await conflictsAs(`step run "${input.planId}" of build ${input.buildId}`, () =>
      withAnnouncement(
        this.db,
        this.rowLocks,
        this.compiled,
        announcement,
        async (db) => {
          if (startsBuild)
            await this.compiled.executeOn(
              db,
              'start build',
              (buildId: number, at: number) =>
                this.db
                  .updateTable('builds')
                  .set({ status: 'started', started_at: at })
                  .where('id', '=', buildId),
              input.buildId,
              startsBuild.at,
            );
          // Every insert binds the lease's columns (NULL when created pending): one SQL text for both.
          return this.compiled.executeOn(
            db,
            'insert',
            (...values: unknown[]) =>
              this.db
                .insertInto('step_runs')
                .values(
                  Object.fromEntries(INSERTED.map((c, i) => [c, values[i]])) as Insertable<StepRunsTable>,
                )
                .returningAll(),
            input.buildId,
            input.planId,
            input.name,
            assigned ? 'assigned' : 'pending',
            json(input.spec),
            input.at,
            assigned?.leaseId ?? null,
            assigned?.agentName ?? null,
            assigned?.pool ?? null,
          );
        },
        undefined,
        this.deferTo(write),
      ),
    );
    const [row] = rows;
    if (!row) throw new Error(`step run "${input.planId}" of build ${input.buildId} was not inserted`);
    return toStepRun(row);
  }

  async getStepRun(id: number): Promise<StepRun | undefined> {
    const { rows } = await this.compiled.execute(
      'get',
      (runId: number) => this.db.selectFrom('step_runs').selectAll().where('id', '=', runId),
      id,
    );
    const [row] = rows;
    return row && toStepRun(row);
  }

  async getStepRunByLease(leaseId: string): Promise<StepRun | undefined> {
    const row = await this.db
      .selectFrom('step_runs')
      .selectAll()
      .where('lease_id', '=', leaseId)
      .executeTakeFirst();
    return row && toStepRun(row);
  }

  async listStepRuns(buildId: number): Promise<StepRun[]> {
    const { rows } = await this.compiled.execute(
      'list',
      (build: number) =>
        this.db.selectFrom('step_runs').selectAll().where('build_id', '=', build).orderBy('id'),
      buildId,
    );
    return rows.map(toStepRun);
  }

  async listStepRunsByStatus(statuses: StepRunStatus[]): Promise<StepRun[]> {
    if (statuses.length === 0) return [];
    const rows = await this.db
      .selectFrom('step_runs')
      .selectAll()
      .where('status', 'in', statuses)
      .orderBy('id')
      .execute();
    return rows.map(toStepRun);
  }

  markStepProcessStarted(id: number, leaseId: string, announcement?: Announcement): Promise<boolean> {
    return withAnnouncement(
      this.db,
      this.rowLocks,
      this.compiled,
      announcement,
      async (db) => {
        const result = await db
          .updateTable('step_runs')
          .set({ started_lease_id: leaseId })
          .where('id', '=', id)
          .where('lease_id', '=', leaseId)
          .where((eb) => eb.or([eb('started_lease_id', 'is', null), eb('started_lease_id', '<>', leaseId)]))
          .executeTakeFirst();
        return result.numUpdatedRows > 0n;
      },
      (marked) => marked,
    );
  }

  updateStepRun(
    id: number,
    expectLease: string | null,
    patch: StepRunPatch,
    expectHolder?: string,
    announcement?: Announcement,
    write?: WriteOptions,
  ): Promise<boolean> {
    return withAnnouncement(
      this.db,
      this.rowLocks,
      this.compiled,
      announcement,
      (db) => this.update(db, id, expectLease, patch, expectHolder),
      (updated) => updated,
      this.deferTo(write),
    );
  }

  private deferTo(write: WriteOptions | undefined): CommitBatch | undefined {
    return write?.deferCommit ? this.batch : undefined;
  }

  private async update(
    db: Kysely<Database>,
    id: number,
    expectLease: string | null,
    patch: StepRunPatch,
    expectHolder: string | undefined,
  ): Promise<boolean> {
    const set = stepRunChanges(patch);
    // An ended or re-queued run no longer waits for an abort or a claim.
    if (patch.status !== undefined && patch.status !== 'assigned' && patch.status !== 'running') {
      set.abort_ending = null;
      set.queued_at = null;
    }
    if (Object.keys(set).length === 0) {
      // Nothing to write: report whether the fence holds.
      const row = await db
        .selectFrom('step_runs')
        .select('id')
        .where('id', '=', id)
        .where((eb) => leaseIs(eb, expectLease))
        .$if(expectHolder !== undefined, (qb) => qb.where('holder', '=', expectHolder ?? ''))
        .executeTakeFirst();
      return row !== undefined;
    }
    // The SQL depends on the columns set and on which fences apply, never on the values.
    const columns = Object.keys(set) as (keyof typeof set)[];
    const fenced = expectLease !== null;
    const held = expectHolder !== undefined;
    const shape = `update ${columns.join(',')} lease:${fenced} holder:${held}`;
    const res = await conflictsAs(`step run ${id} (lease ${patch.leaseId ?? 'none'} already held)`, () =>
      this.compiled.executeOn(
        db,
        shape,
        (runId: unknown, lease: unknown, holder: unknown, ...values: unknown[]) =>
          this.db
            .updateTable('step_runs')
            .set(Object.fromEntries(columns.map((c, i) => [c, values[i]])))
            .where('id', '=', runId as number)
            .where((eb) => leaseIs(eb, fenced ? (lease as string) : null))
            .$if(held, (qb) => qb.where('holder', '=', holder as string)),
        id,
        // Unused arguments of a shape are still bound (to nothing), so every shape takes the same list.
        expectLease,
        expectHolder ?? null,
        ...columns.map((c) => set[c]),
      ),
    );
    return (res.numAffectedRows ?? 0n) > 0n;
  }
}
