// The Store's pipelines and jobs on Kysely: config versions, job upserts, renames and pauses.
// pipelines.name is a pipeline's key (hub/pipeline/instance-vars.ts): its name, with an instance's
// instance vars after a `/` (migration 0017).

import { sql, type ExpressionBuilder, type Kysely, type Selectable } from 'kysely';
import { canonicalJson } from './canonical-json.js';
import { CompiledQueries } from './compiled-queries.js';
import { pipelineKey, type InstanceVars, type PipelineRef } from '../pipeline/instance-vars.js';
import { conflictsAs } from './constraint-errors.js';
import { bool, json, toJob, toPipeline, toPipelineConfig } from './rows.js';
import type { Database, JobsTable, PipelinesTable } from './schema.js';
import { CONFIG_VERSIONS_KEPT, StoreConflictError } from './store.js';
import type { Job, JobByPath, Pipeline, PipelineConfigVersion, SavePipelineInput, Store } from './store.js';

type PipelineQueries =
  | 'savePipeline'
  | 'getPipeline'
  | 'getPipelineById'
  | 'listPipelines'
  | 'listAllPipelines'
  | 'getPipelineConfig'
  | 'setPipelinePaused'
  | 'setPipelinePublic'
  | 'renamePipeline'
  | 'deletePipeline'
  | 'getJob'
  | 'findJobByPath'
  | 'getJobById'
  | 'listJobs'
  | 'setJobPaused';

export class KyselyPipelines implements Pick<Store, PipelineQueries> {
  /** A pipeline by id, read several times per build (engine, scheduler), and the trigger's lookups by name: compiled once. */
  private readonly compiled: CompiledQueries<Database>;

  constructor(private readonly db: Kysely<Database>) {
    this.compiled = new CompiledQueries(db);
  }

  async savePipeline(input: SavePipelineInput): Promise<{ pipeline: Pipeline; created: boolean }> {
    const names = input.jobs.map((j) => j.name);
    const duplicate = names.find((n, i) => names.indexOf(n) !== i);
    if (duplicate !== undefined) {
      throw new StoreConflictError(`pipeline "${input.name}": job "${duplicate}" appears twice`);
    }
    const key = pipelineKey(input);
    return conflictsAs(`pipeline "${input.name}"`, () =>
      this.db.transaction().execute(async (trx) => {
        // One upsert creates the pipeline or bumps its version; a version of 1 means it was created.
        const row = await trx
          .insertInto('pipelines')
          .values({
            team_id: input.teamId,
            name: key,
            instance_vars: key === input.name ? null : canonicalJson(input.instanceVars),
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

  async getPipeline(
    teamId: number,
    name: string,
    instanceVars?: InstanceVars,
  ): Promise<Pipeline | undefined> {
    const { rows } = await this.compiled.execute(
      'pipeline by name',
      (team: number, key: string) =>
        this.db
          .selectFrom('pipelines')
          .selectAll()
          .where('team_id', '=', team)
          .where('name', '=', key)
          .where('kind', '=', 'pipeline'),
      teamId,
      pipelineKey({ name, ...(instanceVars ? { instanceVars } : {}) }),
    );
    const [row] = rows;
    return row && toPipeline(row);
  }

  async getPipelineById(id: number): Promise<Pipeline | undefined> {
    const { rows } = await this.compiled.execute(
      'get',
      (pipelineId: number) => this.db.selectFrom('pipelines').selectAll().where('id', '=', pipelineId),
      id,
    );
    const [row] = rows;
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
    return groupInstances(rows);
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
    const pipeline = await this.getPipelineById(id);
    if (!pipeline) return false;
    // Each key keeps what follows the old name: its instance vars.
    const tail = pipeline.name.length + 1;
    const res = await conflictsAs(`pipeline "${name}" already exists`, () =>
      this.db
        .updateTable('pipelines')
        .set({ name: sql<string>`${name} || substr(name, ${sql.lit(tail)})`, updated_at: at })
        .where('team_id', '=', pipeline.teamId)
        .where((eb) => inGroup(eb, pipeline.name))
        .executeTakeFirst(),
    );
    return res.numUpdatedRows > 0n;
  }

  // What a pipeline owns goes with it through the schema's ON DELETE CASCADE.
  async deletePipeline(id: number): Promise<boolean> {
    const res = await this.db.deleteFrom('pipelines').where('id', '=', id).executeTakeFirst();
    return res.numDeletedRows > 0n;
  }

  async getJob(pipelineId: number, name: string): Promise<Job | undefined> {
    const { rows } = await this.compiled.execute(
      'job by name',
      (pipeline: number, jobName: string) =>
        this.db
          .selectFrom('jobs')
          .selectAll()
          .where('pipeline_id', '=', pipeline)
          .where('name', '=', jobName),
      pipelineId,
      name,
    );
    const [row] = rows;
    return row && toJob(row);
  }

  async findJobByPath(team: string, pipeline: PipelineRef, job: string): Promise<JobByPath> {
    const { rows } = await this.compiled.execute(
      'job by path',
      (teamName: string, key: string, jobName: string) =>
        this.db
          .selectFrom('teams')
          .leftJoin('pipelines', (on) =>
            on
              .onRef('pipelines.team_id', '=', 'teams.id')
              .on('pipelines.name', '=', key)
              .on('pipelines.kind', '=', 'pipeline'),
          )
          .leftJoin('jobs', (on) =>
            on.onRef('jobs.pipeline_id', '=', 'pipelines.id').on('jobs.name', '=', jobName),
          )
          .selectAll('jobs')
          .select('pipelines.id as path_pipeline_id')
          .where('teams.name', '=', teamName),
      team,
      pipelineKey(pipeline),
      job,
    );
    const [row] = rows;
    if (row === undefined) return { missing: 'team' };
    if (row.path_pipeline_id === null) return { missing: 'pipeline' };
    return { job: row.id === null ? undefined : toJob(row as Selectable<JobsTable>) };
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
}

/** The pipelines of the group `name`: the one without instance vars and every instance (by key). */
export function inGroup(eb: ExpressionBuilder<Database, 'pipelines'>, name: string) {
  return eb.or([
    eb('pipelines.name', '=', name),
    eb(eb.fn('substr', ['pipelines.name', sql.lit(1), sql.lit(name.length + 1)]), '=', `${name}/`),
  ]);
}

/**
 * Pipelines in their order, with each instance moved up next to the first pipeline of its group, and
 * the members of a group in their order-instanced-pipelines order (then by id, as `rows` come).
 */
function groupInstances(rows: Selectable<PipelinesTable>[]): Pipeline[] {
  const groups = new Map<string, { pipeline: Pipeline; position: number }[]>();
  for (const row of rows) {
    const pipeline = toPipeline(row);
    groups.set(pipeline.name, [
      ...(groups.get(pipeline.name) ?? []),
      { pipeline, position: row.instance_ordering },
    ]);
  }
  // Array sort is stable: instances never ordered keep the rows' order, by id.
  return [...groups.values()].flatMap((group) =>
    group.sort((a, b) => a.position - b.position).map((m) => m.pipeline),
  );
}
