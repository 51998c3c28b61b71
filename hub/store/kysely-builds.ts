// The Store's builds on Kysely: creation with the job's next number, lookups by the names users know,
// and the artifact references that keep blobs from collection.

import { sql, type Insertable, type Kysely, type Updateable } from 'kysely';
import type { CommitBatch } from './commit-batch.js';
import { CompiledQueries } from './compiled-queries.js';
import { conflictsAs } from './constraint-errors.js';
import { withAnnouncement } from './kysely-announcements.js';
import { bool, json, toBuildView, type BuildViewRow } from './rows.js';
import type { BuildsTable, Database } from './schema.js';
import { StoreConflictError } from './store.js';
import type {
  Announcement,
  BuildFilter,
  BuildStatus,
  BuildView,
  NewBuild,
  Store,
  WriteOptions,
} from './store.js';

type BuildQueries =
  | 'createBuild'
  | 'getBuild'
  | 'getBuildByName'
  | 'listBuilds'
  | 'pendingBuildsOfJob'
  | 'updateBuild'
  | 'addBuildArtifacts'
  | 'referencedDigests';

/** The columns createBuild sets besides the team, in the order of its arguments. */
const INSERTED = [
  'pipeline_id',
  'job_id',
  'name',
  'status',
  'plan',
  'manual',
  'check_request',
  'created_at',
] as const satisfies readonly (keyof BuildsTable)[];

/** Builds joined with the names a user knows them by. */
function buildViews(db: Kysely<Database>) {
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

export class KyselyBuilds implements Pick<Store, BuildQueries> {
  /** The queries of every build (its creation, by id, its status updates): compiled once. */
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

  async createBuild(input: NewBuild, write?: WriteOptions): Promise<BuildView> {
    return conflictsAs(`build of job ${input.jobId}`, () =>
      this.db.transaction().execute(async (trx) => {
        if (write?.deferCommit) this.batch?.deferCommit();
        // Increment-and-return in one statement: on PostgreSQL the row lock orders concurrent creators.
        const [job] = (
          await this.compiled.executeOn(
            trx,
            'next number',
            (jobId: number) =>
              this.db
                .updateTable('jobs')
                .set((eb) => ({ next_build_number: eb('next_build_number', '+', 1) }))
                .where('id', '=', jobId)
                // The job's names for the build's view, so the insert below need not read the job again.
                .returning(['pipeline_id', 'next_build_number', 'name', 'kind']),
            input.jobId,
          )
        ).rows;
        if (job === undefined) throw new StoreConflictError(`job ${input.jobId} does not exist`);
        const [row] = (
          await this.compiled.executeOn(
            trx,
            'insert',
            (...values: unknown[]) =>
              this.db
                .insertInto('builds')
                .values((eb) => ({
                  team_id: eb
                    .selectFrom('pipelines')
                    .select('team_id')
                    .where('id', '=', values[0] as number),
                  ...(Object.fromEntries(INSERTED.map((c, i) => [c, values[i]])) as Omit<
                    Insertable<BuildsTable>,
                    'team_id'
                  >),
                }))
                .returningAll()
                // The team's and pipeline's names (the job's come from the update above), so the caller
                // need not read the build back.
                .returning((eb) => [
                  eb
                    .selectFrom('teams')
                    .select('teams.name')
                    .whereRef('teams.id', '=', 'builds.team_id')
                    .as('team_name'),
                  eb
                    .selectFrom('pipelines')
                    .select('pipelines.name')
                    .whereRef('pipelines.id', '=', 'builds.pipeline_id')
                    .as('pipeline_name'),
                ]),
            job.pipeline_id,
            input.jobId,
            String(job.next_build_number - 1),
            'pending',
            json(input.plan),
            bool(input.manual ?? false),
            input.checkRequest ? json(input.checkRequest) : null,
            input.at,
          )
        ).rows;
        if (row === undefined) throw new Error(`build of job ${input.jobId} was not inserted`);
        return toBuildView({ ...row, job_name: job.name, job_kind: job.kind } as BuildViewRow);
      }),
    );
  }

  async getBuild(id: number): Promise<BuildView | undefined> {
    const { rows } = await this.compiled.execute(
      'get',
      (buildId: number) => buildViews(this.db).where('builds.id', '=', buildId),
      id,
    );
    const [row] = rows;
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

  async pendingBuildsOfJob(job: { pipelineId: number; jobId: number }): Promise<number[]> {
    // Through builds (pipeline_id, status, id): only the pipeline's pending builds are read.
    const { rows } = await this.compiled.execute(
      'pending of job',
      (pipelineId: number, jobId: number) =>
        this.db
          .selectFrom('builds')
          .select('id')
          .where('pipeline_id', '=', pipelineId)
          .where('status', '=', 'pending')
          .where('job_id', '=', jobId),
      job.pipelineId,
      job.jobId,
    );
    return rows.map((r) => r.id);
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
    announcement?: Announcement,
    write?: WriteOptions,
  ): Promise<void> {
    const set: Updateable<BuildsTable> = {};
    if (patch.status !== undefined) set.status = patch.status;
    if (patch.startedAt !== undefined) set.started_at = patch.startedAt;
    if (patch.endedAt !== undefined) set.ended_at = patch.endedAt;
    if (patch.abortRequested !== undefined) set.abort_requested = bool(patch.abortRequested);
    if (patch.pendingReason !== undefined) set.pending_reason = patch.pendingReason;
    const columns = Object.keys(set) as (keyof typeof set)[];
    if (columns.length === 0) return;
    await withAnnouncement(
      this.db,
      this.rowLocks,
      this.compiled,
      announcement,
      (db) =>
        this.compiled.executeOn(
          db,
          `update ${columns.join(',')}`,
          (buildId: unknown, ...values: unknown[]) =>
            this.db
              .updateTable('builds')
              .set(Object.fromEntries(columns.map((c, i) => [c, values[i]])))
              .where('id', '=', buildId as number),
          id,
          ...columns.map((c) => set[c]),
        ),
      undefined,
      write?.deferCommit ? this.batch : undefined,
    );
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
}
