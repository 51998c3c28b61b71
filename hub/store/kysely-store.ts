// The Store on Kysely: the queries and transactions, written once for SQLite and PostgreSQL.
// The database connection, its pragmas and migrations are the opener's job (sqlite.ts, postgres.ts).

import { sql, type ExpressionBuilder, type Kysely, type Transaction, type Updateable } from 'kysely';
import type { PlanNode } from '../pipeline/plan.js';
import { conflictsAs } from './constraint-errors.js';
import { KyselyBuildEventStore } from './kysely-build-events.js';
import { KyselyAuditLog } from './kysely-audit-log.js';
import { KyselyPipelineLifecycleStore } from './kysely-pipeline-lifecycle.js';
import { KyselyOneOffStore } from './kysely-one-offs.js';
import { KyselyResourceStore } from './kysely-resources.js';
import { KyselyRerunStore } from './kysely-reruns.js';
import { KyselyTaskCacheStore } from './kysely-task-caches.js';
import { KyselyTeamStore } from './kysely-teams.js';
import { KyselyUploadStore } from './kysely-uploads.js';
import { KyselyUserStore } from './kysely-users.js';
import {
  bool,
  json,
  toAgent,
  toBuild,
  toBuildEvent,
  toBuildView,
  toJob,
  toPipeline,
  toPipelineConfig,
  toStepRun,
  toTeam,
  toToken,
} from './rows.js';
import type { BuildsTable, Database, StepRunsTable } from './schema.js';
import { CONFIG_VERSIONS_KEPT, StoreConflictError, TERMINAL_BUILD_STATUSES } from './store.js';
import type {
  AgentRecord,
  Build,
  BuildEvent,
  BuildRetention,
  BuildFilter,
  BuildStatus,
  BuildView,
  Job,
  LogAppend,
  LogAppendOptions,
  LogAppendResult,
  Pipeline,
  PipelineConfigVersion,
  SavePipelineInput,
  StepRun,
  StepRunStatus,
  Store,
  Team,
  NewToken,
  TokenRecord,
} from './store.js';

type Db = Kysely<Database> | Transaction<Database>;

const RESOURCE_CACHE_TTL_MS = 86_400_000;

type StepRunPatch = Parameters<Store['updateStepRun']>[2];
type EventInput = { type: string; version: string; data: unknown; at: number };

/** Builds joined with the names a user knows them by. */
function buildViews(db: Db) {
  return db
    .selectFrom('builds')
    .innerJoin('teams', 'teams.id', 'builds.team_id')
    .innerJoin('pipelines', 'pipelines.id', 'builds.pipeline_id')
    .innerJoin('jobs', 'jobs.id', 'builds.job_id')
    .selectAll('builds')
    .select([
      'teams.name as team_name',
      'pipelines.name as pipeline_name',
      'jobs.name as job_name',
      'jobs.kind as job_kind',
    ]);
}

/**
 * Inserts an event with the build's next seq, computed in the same statement (max + 1 over the
 * (build_id, seq) primary key), which is atomic on SQLite's single writer. On PostgreSQL the caller
 * holds the build's row lock (lockBuilds), so concurrent appenders cannot pick the same seq.
 */
async function insertEvent(db: Db, buildId: number, event: EventInput): Promise<BuildEvent> {
  const data = json(event.data);
  // Only the allocated seq comes back: the rest is what the caller gave (no re-parse on the hot path).
  const row = await db
    .insertInto('build_events')
    .values((eb) => ({
      build_id: buildId,
      seq: eb
        .selectFrom('build_events')
        .select((sb) => sb(sb.fn.coalesce(sb.fn.max('seq'), sb.lit(0)), '+', 1).as('next'))
        .where('build_id', '=', buildId),
      type: event.type,
      version: event.version,
      data,
      at: event.at,
    }))
    .returning('seq')
    .executeTakeFirstOrThrow();
  return { buildId, seq: row.seq, type: event.type, version: event.version, json: data, at: event.at };
}

/** Inserts an event at a seq the caller allocated (inside a transaction that read the build's max seq). */
async function insertEventAt(db: Db, buildId: number, seq: number, event: EventInput): Promise<BuildEvent> {
  const data = json(event.data);
  await db
    .insertInto('build_events')
    .values({ build_id: buildId, seq, type: event.type, version: event.version, data, at: event.at })
    .execute();
  return { buildId, seq, type: event.type, version: event.version, json: data, at: event.at };
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

/** What the dialect needs from the queries. */
export interface KyselyStoreOptions {
  /**
   * Lock the rows a read-then-write transaction depends on (PostgreSQL, where writers run
   * concurrently). False on SQLite, whose single writer serialises transactions already.
   */
  rowLocks: boolean;
}

export class KyselyStore implements Store {
  readonly resources: KyselyResourceStore;
  readonly oneOffs: KyselyOneOffStore;
  readonly teams: KyselyTeamStore;
  readonly users: KyselyUserStore;
  readonly uploads: KyselyUploadStore;
  readonly buildEvents: KyselyBuildEventStore;
  readonly auditLog: KyselyAuditLog;
  readonly pipelineLifecycle: KyselyPipelineLifecycleStore;
  readonly reruns: KyselyRerunStore;
  readonly taskCaches: KyselyTaskCacheStore;
  private readonly rowLocks: boolean;

  constructor(
    private readonly db: Kysely<Database>,
    options: KyselyStoreOptions,
  ) {
    this.rowLocks = options.rowLocks;
    this.resources = new KyselyResourceStore(db);
    this.oneOffs = new KyselyOneOffStore(db);
    this.teams = new KyselyTeamStore(db);
    this.auditLog = new KyselyAuditLog(db);
    this.users = new KyselyUserStore(db);
    this.uploads = new KyselyUploadStore(db);
    this.buildEvents = new KyselyBuildEventStore(db);
    this.pipelineLifecycle = new KyselyPipelineLifecycleStore(db);
    this.reruns = new KyselyRerunStore(db);
    this.taskCaches = new KyselyTaskCacheStore(db);
  }

  // Teams.

  async getTeam(name: string): Promise<Team | undefined> {
    const row = await this.db.selectFrom('teams').selectAll().where('name', '=', name).executeTakeFirst();
    return row && toTeam(row);
  }

  async getTeamById(id: number): Promise<Team | undefined> {
    const row = await this.db.selectFrom('teams').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toTeam(row);
  }

  // Tokens.

  async createToken(input: NewToken): Promise<TokenRecord> {
    const row = await conflictsAs(`token "${input.name}" (hash already stored, or unknown team)`, () =>
      this.db
        .insertInto('tokens')
        .values({
          name: input.name,
          hash: input.hash,
          team_id: input.teamId,
          kind: input.kind,
          created_at: input.createdAt,
          role: input.role ?? null,
          expires_at: input.expiresAt ?? null,
          user_id: input.userId ?? null,
          agent_bounds: input.bounds ? JSON.stringify(input.bounds) : null,
        })
        .returningAll()
        .executeTakeFirstOrThrow(),
    );
    return toToken(row);
  }

  async listTokens(kind: TokenRecord['kind']): Promise<TokenRecord[]> {
    const rows = await this.db
      .selectFrom('tokens')
      .selectAll()
      .where('kind', '=', kind)
      .orderBy('id')
      .execute();
    return rows.map(toToken);
  }

  async findTokenByHash(hash: string): Promise<TokenRecord | undefined> {
    const row = await this.db.selectFrom('tokens').selectAll().where('hash', '=', hash).executeTakeFirst();
    return row && toToken(row);
  }

  async revokeToken(id: number, at: number): Promise<boolean> {
    const res = await this.db
      .updateTable('tokens')
      .set({ revoked_at: at })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return res.numUpdatedRows > 0n;
  }

  async touchToken(id: number, at: number): Promise<void> {
    await this.db.updateTable('tokens').set({ last_used_at: at }).where('id', '=', id).execute();
  }

  // Pipelines and jobs.

  async savePipeline(input: SavePipelineInput): Promise<{ pipeline: Pipeline; created: boolean }> {
    const names = input.jobs.map((j) => j.name);
    const duplicate = names.find((n, i) => names.indexOf(n) !== i);
    if (duplicate !== undefined) {
      throw new StoreConflictError(`pipeline "${input.name}": job "${duplicate}" appears twice`);
    }
    return conflictsAs(`pipeline "${input.name}"`, () =>
      this.db.transaction().execute(async (trx) => {
        // One upsert creates the pipeline or bumps its version; a version of 1 means it was created.
        const row = await trx
          .insertInto('pipelines')
          .values({
            team_id: input.teamId,
            name: input.name,
            paused: bool(input.createPaused ?? false),
            config_version: 1,
            created_at: input.at,
            updated_at: input.at,
          })
          .onConflict((oc) =>
            oc.columns(['team_id', 'name']).doUpdateSet((eb) => ({
              config_version: eb('pipelines.config_version', '+', 1),
              updated_at: eb.ref('excluded.updated_at'),
            })),
          )
          .returningAll()
          .executeTakeFirstOrThrow();
        await trx
          .insertInto('pipeline_configs')
          .values({
            pipeline_id: row.id,
            version: row.config_version,
            source: input.source,
            created_at: input.at,
          })
          .execute();
        // Old versions keep old credentials: only the latest CONFIG_VERSIONS_KEPT are kept.
        await trx
          .deleteFrom('pipeline_configs')
          .where('pipeline_id', '=', row.id)
          .where('version', '<=', row.config_version - CONFIG_VERSIONS_KEPT)
          .execute();
        // A job renamed with `old_name` keeps its row, and so its builds and numbering, under the new name.
        for (const job of input.jobs) {
          if (job.oldName === undefined || job.oldName === job.name) continue;
          const taken = await trx
            .selectFrom('jobs')
            .select('id')
            .where('pipeline_id', '=', row.id)
            .where('name', '=', job.name)
            .executeTakeFirst();
          if (taken) continue;
          await trx
            .updateTable('jobs')
            .set({ name: job.name })
            .where('pipeline_id', '=', row.id)
            .where('name', '=', job.oldName)
            .execute();
        }
        if (input.jobs.length > 0) {
          await trx
            .insertInto('jobs')
            .values(
              input.jobs.map((job, i) => ({
                pipeline_id: row.id,
                name: job.name,
                plan: json(job.plan),
                active: 1,
                config_order: i,
                retention: job.retention ? json(job.retention) : null,
                kind: job.kind ?? 'job',
                schedule: job.schedule ? json(job.schedule) : null,
              })),
            )
            .onConflict((oc) =>
              oc.columns(['pipeline_id', 'name']).doUpdateSet((eb) => ({
                plan: eb.ref('excluded.plan'),
                active: 1,
                config_order: eb.ref('excluded.config_order'),
                retention: eb.ref('excluded.retention'),
                kind: eb.ref('excluded.kind'),
                schedule: eb.ref('excluded.schedule'),
              })),
            )
            .execute();
        }
        // Jobs gone from the config stay (with their builds) but are no longer listed.
        let gone = trx
          .updateTable('jobs')
          .set({ active: 0 })
          .where('pipeline_id', '=', row.id)
          .where('active', '=', 1);
        if (names.length > 0) gone = gone.where('name', 'not in', names);
        await gone.execute();
        return { pipeline: toPipeline(row), created: row.config_version === 1 };
      }),
    );
  }

  async getPipeline(teamId: number, name: string): Promise<Pipeline | undefined> {
    const row = await this.db
      .selectFrom('pipelines')
      .selectAll()
      .where('team_id', '=', teamId)
      .where('name', '=', name)
      .where('kind', '=', 'pipeline')
      .executeTakeFirst();
    return row && toPipeline(row);
  }

  async getPipelineById(id: number): Promise<Pipeline | undefined> {
    const row = await this.db.selectFrom('pipelines').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toPipeline(row);
  }

  async listPipelines(teamId: number): Promise<Pipeline[]> {
    const rows = await this.db
      .selectFrom('pipelines')
      .selectAll()
      .where('team_id', '=', teamId)
      .orderBy('ordering')
      .where('kind', '=', 'pipeline')
      .orderBy('id')
      .execute();
    return rows.map(toPipeline);
  }

  async listAllPipelines(): Promise<Pipeline[]> {
    const rows = await this.db
      .selectFrom('pipelines')
      .selectAll()
      .where('kind', '=', 'pipeline')
      .orderBy('id')
      .execute();
    return rows.map(toPipeline);
  }

  async getPipelineConfig(pipelineId: number, version?: number): Promise<PipelineConfigVersion | undefined> {
    let q = this.db.selectFrom('pipeline_configs').selectAll().where('pipeline_id', '=', pipelineId);
    q = version === undefined ? q.orderBy('version', 'desc').limit(1) : q.where('version', '=', version);
    const row = await q.executeTakeFirst();
    return row && toPipelineConfig(row);
  }

  async setPipelinePaused(id: number, paused: boolean, at: number): Promise<void> {
    await this.db
      .updateTable('pipelines')
      .set({ paused: bool(paused), updated_at: at })
      .where('id', '=', id)
      .execute();
  }

  async setPipelinePublic(id: number, exposed: boolean, at: number): Promise<void> {
    await this.db
      .updateTable('pipelines')
      .set({ public: bool(exposed), updated_at: at })
      .where('id', '=', id)
      .execute();
  }

  async renamePipeline(id: number, name: string, at: number): Promise<boolean> {
    const res = await conflictsAs(`pipeline "${name}" already exists`, () =>
      this.db.updateTable('pipelines').set({ name, updated_at: at }).where('id', '=', id).executeTakeFirst(),
    );
    return res.numUpdatedRows > 0n;
  }

  // What a pipeline owns goes with it through the schema's ON DELETE CASCADE.
  async deletePipeline(id: number): Promise<boolean> {
    const res = await this.db.deleteFrom('pipelines').where('id', '=', id).executeTakeFirst();
    return res.numDeletedRows > 0n;
  }

  async getJob(pipelineId: number, name: string): Promise<Job | undefined> {
    const row = await this.db
      .selectFrom('jobs')
      .selectAll()
      .where('pipeline_id', '=', pipelineId)
      .where('name', '=', name)
      .executeTakeFirst();
    return row && toJob(row);
  }

  async getJobById(id: number): Promise<Job | undefined> {
    const row = await this.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toJob(row);
  }

  async listJobs(pipelineId: number, kind: Job['kind'] = 'job'): Promise<Job[]> {
    const rows = await this.db
      .selectFrom('jobs')
      .selectAll()
      .where('pipeline_id', '=', pipelineId)
      .where('active', '=', 1)
      .where('kind', '=', kind)
      .orderBy('config_order')
      .execute();
    return rows.map(toJob);
  }

  async setJobPaused(id: number, paused: boolean): Promise<void> {
    await this.db
      .updateTable('jobs')
      .set({ paused: bool(paused) })
      .where('id', '=', id)
      .execute();
  }

  // Builds.

  async createBuild(input: {
    jobId: number;
    plan: PlanNode;
    at: number;
    manual?: boolean;
    checkRequest?: Build['checkRequest'];
  }): Promise<Build> {
    return conflictsAs(`build of job ${input.jobId}`, () =>
      this.db.transaction().execute(async (trx) => {
        // Increment-and-return in one statement: on PostgreSQL the row lock orders concurrent creators.
        const job = await trx
          .updateTable('jobs')
          .set((eb) => ({ next_build_number: eb('next_build_number', '+', 1) }))
          .where('id', '=', input.jobId)
          .returning(['pipeline_id', 'next_build_number'])
          .executeTakeFirst();
        if (job === undefined) throw new StoreConflictError(`job ${input.jobId} does not exist`);
        const row = await trx
          .insertInto('builds')
          .values((eb) => ({
            team_id: eb.selectFrom('pipelines').select('team_id').where('id', '=', job.pipeline_id),
            pipeline_id: job.pipeline_id,
            job_id: input.jobId,
            name: String(job.next_build_number - 1),
            status: 'pending',
            plan: json(input.plan),
            manual: bool(input.manual ?? false),
            check_request: input.checkRequest ? json(input.checkRequest) : null,
            created_at: input.at,
          }))
          .returningAll()
          .executeTakeFirstOrThrow();
        return toBuild(row);
      }),
    );
  }

  async getBuild(id: number): Promise<BuildView | undefined> {
    const row = await buildViews(this.db).where('builds.id', '=', id).executeTakeFirst();
    return row && toBuildView(row);
  }

  async getBuildByName(jobId: number, name: string): Promise<BuildView | undefined> {
    const row = await buildViews(this.db)
      .where('builds.job_id', '=', jobId)
      .where('builds.name', '=', name)
      .executeTakeFirst();
    return row && toBuildView(row);
  }

  async listBuilds(filter: BuildFilter): Promise<BuildView[]> {
    // An empty status list matches no build.
    if (filter.limit <= 0 || filter.statuses?.length === 0 || filter.teamIds?.length === 0) return [];
    let q = buildViews(this.db);
    if (filter.teamId !== undefined) q = q.where('builds.team_id', '=', filter.teamId);
    if (filter.teamIds !== undefined) q = q.where('builds.team_id', 'in', filter.teamIds);
    if (filter.pipelineId !== undefined) q = q.where('builds.pipeline_id', '=', filter.pipelineId);
    if (filter.jobId !== undefined) q = q.where('builds.job_id', '=', filter.jobId);
    if (filter.jobKind !== undefined) q = q.where('jobs.kind', 'in', [filter.jobKind].flat());
    if (filter.statuses !== undefined) q = q.where('builds.status', 'in', filter.statuses);
    if (filter.before !== undefined) q = q.where('builds.id', '<', filter.before);
    if (filter.startedSince !== undefined) q = q.where('builds.started_at', '>=', filter.startedSince);
    if (filter.startedUntil !== undefined) q = q.where('builds.started_at', '<=', filter.startedUntil);
    // A job's builds in name order, as Concourse: a rerun (1.2) sorts after its original's later
    // builds (2) and before the original (1), so the job's latest build is not a rerun of an old one.
    if (filter.jobId !== undefined) q = q.orderBy(sql`coalesce(builds.rerun_of, builds.id)`, 'desc');
    const rows = await q.orderBy('builds.id', 'desc').limit(filter.limit).execute();
    return rows.map(toBuildView);
  }

  async updateBuild(
    id: number,
    patch: {
      status?: BuildStatus;
      startedAt?: number;
      endedAt?: number;
      abortRequested?: boolean;
      pendingReason?: string | null;
    },
  ): Promise<void> {
    const set: Updateable<BuildsTable> = {};
    if (patch.status !== undefined) set.status = patch.status;
    if (patch.startedAt !== undefined) set.started_at = patch.startedAt;
    if (patch.endedAt !== undefined) set.ended_at = patch.endedAt;
    if (patch.abortRequested !== undefined) set.abort_requested = bool(patch.abortRequested);
    if (patch.pendingReason !== undefined) set.pending_reason = patch.pendingReason;
    if (Object.keys(set).length === 0) return;
    await this.db.updateTable('builds').set(set).where('id', '=', id).execute();
  }

  // Step runs.

  async createStepRun(input: {
    buildId: number;
    planId: string;
    name: string;
    spec: unknown;
    at: number;
  }): Promise<StepRun> {
    const row = await conflictsAs(`step run "${input.planId}" of build ${input.buildId}`, () =>
      this.db
        .insertInto('step_runs')
        .values({
          build_id: input.buildId,
          plan_id: input.planId,
          name: input.name,
          status: 'pending',
          spec: json(input.spec),
          created_at: input.at,
        })
        .returningAll()
        .executeTakeFirstOrThrow(),
    );
    return toStepRun(row);
  }

  async getStepRun(id: number): Promise<StepRun | undefined> {
    const row = await this.db.selectFrom('step_runs').selectAll().where('id', '=', id).executeTakeFirst();
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
    const rows = await this.db
      .selectFrom('step_runs')
      .selectAll()
      .where('build_id', '=', buildId)
      .orderBy('id')
      .execute();
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

  async updateStepRun(id: number, expectLease: string | null, patch: StepRunPatch): Promise<boolean> {
    const set = stepRunChanges(patch);
    if (Object.keys(set).length === 0) {
      // Nothing to write: report whether the fence holds.
      const row = await this.db
        .selectFrom('step_runs')
        .select('id')
        .where('id', '=', id)
        .where((eb) => leaseIs(eb, expectLease))
        .executeTakeFirst();
      return row !== undefined;
    }
    const res = await conflictsAs(`step run ${id} (lease ${patch.leaseId ?? 'none'} already held)`, () =>
      this.db
        .updateTable('step_runs')
        .set(set)
        .where('id', '=', id)
        .where((eb) => leaseIs(eb, expectLease))
        .executeTakeFirst(),
    );
    return res.numUpdatedRows > 0n;
  }

  // Build events.

  async appendBuildEvent(buildId: number, event: EventInput): Promise<BuildEvent> {
    // On SQLite a single statement, so atomic on its own: no explicit transaction on the hot path.
    return conflictsAs(`event for build ${buildId}`, () =>
      this.rowLocks
        ? this.db.transaction().execute(async (trx) => {
            await lockBuilds(trx, [buildId]);
            return insertEvent(trx, buildId, event);
          })
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
        for (const input of inputs) {
          let step = steps.get(input.stepRunId);
          if (!step) {
            const row = await trx
              .selectFrom('step_runs')
              .select(['build_id', 'log_seq'])
              .where('id', '=', input.stepRunId)
              .executeTakeFirst();
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
            const row = await trx
              .selectFrom('builds')
              .select((eb) => [
                'log_bytes',
                'log_truncated',
                eb
                  .selectFrom('build_events')
                  .select((sb) => sb.fn.coalesce(sb.fn.max('seq'), sb.lit(0)).as('m'))
                  .where('build_id', '=', step.buildId)
                  .as('max_seq'),
              ])
              .where('id', '=', step.buildId)
              .executeTakeFirst();
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
                marker = await insertEventAt(trx, step.buildId, build.nextSeq++, {
                  ...options.truncationMarker(input),
                  at: input.at,
                });
            }
            results.push({ kind: 'truncated', marker });
            continue;
          }
          build.bytes += bytes;
          build.dirty = build.dirty || bytes > 0;
          const event = await insertEventAt(trx, step.buildId, build.nextSeq++, {
            ...input.event,
            at: input.at,
          });
          results.push({ kind: 'stored', event });
        }
        for (const [id, step] of steps) {
          if (step.logSeq !== step.initial)
            await trx.updateTable('step_runs').set({ log_seq: step.logSeq }).where('id', '=', id).execute();
        }
        for (const [id, build] of builds) {
          if (build.dirty)
            await trx
              .updateTable('builds')
              .set({ log_bytes: build.bytes, log_truncated: build.truncated ? 1 : 0 })
              .where('id', '=', id)
              .execute();
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

  // Agents.

  async upsertAgent(agent: AgentRecord): Promise<void> {
    const values = {
      cluster: agent.cluster,
      version: agent.version,
      pools: json(agent.pools),
      state: agent.state,
      token_id: agent.tokenId,
      connected_at: agent.connectedAt,
      last_heartbeat_at: agent.lastHeartbeatAt,
    };
    await conflictsAs(`agent "${agent.name}" (unknown token?)`, () =>
      this.db
        .insertInto('agents')
        .values({ name: agent.name, ...values })
        .onConflict((oc) => oc.column('name').doUpdateSet(values))
        .execute(),
    );
  }

  async getAgent(name: string): Promise<AgentRecord | undefined> {
    const row = await this.db.selectFrom('agents').selectAll().where('name', '=', name).executeTakeFirst();
    return row && toAgent(row);
  }

  async listAgents(): Promise<AgentRecord[]> {
    const rows = await this.db.selectFrom('agents').selectAll().orderBy('name').execute();
    return rows.map(toAgent);
  }

  async setAgentState(name: string, state: AgentRecord['state'], at: number): Promise<void> {
    // Connecting is a sign of life too; other states keep the last connect and heartbeat times.
    const set = state === 'connected' ? { state, connected_at: at, last_heartbeat_at: at } : { state };
    await this.db.updateTable('agents').set(set).where('name', '=', name).execute();
  }

  async touchAgent(name: string, at: number): Promise<void> {
    await this.db.updateTable('agents').set({ last_heartbeat_at: at }).where('name', '=', name).execute();
  }

  async addBuildArtifacts(buildId: number, digests: string[]): Promise<void> {
    if (digests.length === 0) return;
    await this.db
      .insertInto('build_artifacts')
      .values([...new Set(digests)].map((digest) => ({ build_id: buildId, digest })))
      .onConflict((oc) => oc.doNothing())
      .execute();
  }

  async referencedDigests(): Promise<Set<string>> {
    const rows = await this.db.selectFrom('build_artifacts').select('digest').distinct().execute();
    // The resource cache keeps fetched versions for later builds, which reuse them without a fetch.
    const cached = await this.db.selectFrom('resource_caches').select('digest').distinct().execute();
    return new Set([...rows, ...cached].map((r) => r.digest));
  }

  async reapBuilds(now: number): Promise<number> {
    const jobs = await this.db
      .selectFrom('jobs')
      .select(['id', 'retention'])
      .where('retention', 'is not', null)
      .execute();
    let reaped = 0;
    for (const job of jobs) {
      const retention = JSON.parse(job.retention ?? '{}') as BuildRetention;
      const finished = await this.db
        .selectFrom('builds')
        .select(['id', 'status', 'ended_at'])
        .where('job_id', '=', job.id)
        .where('status', 'in', TERMINAL_BUILD_STATUSES)
        .orderBy('id', 'desc')
        .execute();
      const doomed = buildsToReap(
        finished.map((b) => ({
          id: b.id,
          succeeded: b.status === 'succeeded',
          endedAt: b.ended_at === null ? now : Number(b.ended_at),
        })),
        retention,
        now,
      );
      if (doomed.length === 0) continue;
      // Events, step runs and artifact references go with their builds (ON DELETE CASCADE).
      await this.db.deleteFrom('builds').where('id', 'in', doomed).execute();
      reaped += doomed.length;
    }
    // Cache entries no remaining build uses go after a day, so their blobs can be collected.
    await this.db
      .deleteFrom('resource_caches')
      .where('created_at', '<', now - RESOURCE_CACHE_TTL_MS)
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('build_artifacts')
              .select('digest')
              .whereRef('digest', '=', 'resource_caches.digest'),
          ),
        ),
      )
      .execute();
    return reaped;
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}

/** Which finished builds (newest first) a retention policy lets go. Pure. */
export function buildsToReap(
  builds: { id: number; succeeded: boolean; endedAt: number }[],
  retention: BuildRetention,
  now: number,
): number[] {
  const keepSucceeded = retention.minimumSucceededBuilds ?? 0;
  const doomed: number[] = [];
  let succeededKept = 0;
  builds.forEach((build, index) => {
    const tooMany = retention.builds !== undefined && index >= retention.builds;
    const tooOld = retention.days !== undefined && now - build.endedAt > retention.days * 86_400_000;
    if ((tooMany || tooOld) && !(build.succeeded && succeededKept < keepSucceeded)) doomed.push(build.id);
    else if (build.succeeded) succeededKept++;
  });
  return doomed;
}
