// PipelineLifecycleStore on Kysely: archiving, the order of a team's pipelines and of the instances in a
// group, and which job's
// set_pipeline step set a pipeline (its parent).

import type { Kysely } from 'kysely';
import { inGroup } from './kysely-pipelines.js';
import { toPipeline } from './rows.js';
import type { Database } from './schema.js';
import type { Pipeline, PipelineLifecycleStore } from './store.js';

export class KyselyPipelineLifecycleStore implements PipelineLifecycleStore {
  constructor(private readonly db: Kysely<Database>) {}

  async archive(id: number, at: number): Promise<void> {
    // Concourse: an archived pipeline is paused and stays so until set-pipeline brings it back.
    await this.db
      .updateTable('pipelines')
      .set({ archived: 1, paused: 1, updated_at: at })
      .where('id', '=', id)
      .execute();
  }

  async unarchive(id: number): Promise<void> {
    await this.db.updateTable('pipelines').set({ archived: 0 }).where('id', '=', id).execute();
  }

  async order(teamId: number, names: string[]): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      // Negative positions: the named pipelines come first, in the given order; pipelines never ordered
      // (0) and those created later follow by id.
      for (const [i, name] of names.entries()) {
        await trx
          .updateTable('pipelines')
          .set({ ordering: i - names.length })
          .where('team_id', '=', teamId)
          .where((eb) => inGroup(eb, name))
          .execute();
      }
      if (names.length > 0)
        await trx
          .updateTable('pipelines')
          .set({ ordering: 0 })
          .where('team_id', '=', teamId)
          .where((eb) => eb.not(eb.or(names.map((name) => inGroup(eb, name)))))
          .execute();
    });
  }

  async orderInstances(teamId: number, name: string, keys: string[]): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const group = trx
        .updateTable('pipelines')
        .where('team_id', '=', teamId)
        .where((eb) => inGroup(eb, name));
      await group.set({ instance_ordering: 0 }).execute();
      for (const [i, key] of keys.entries())
        await group
          .set({ instance_ordering: i - keys.length })
          .where('name', '=', key)
          .execute();
    });
  }

  async setParent(id: number, parentJobId: number | null): Promise<void> {
    await this.db.updateTable('pipelines').set({ parent_job_id: parentJobId }).where('id', '=', id).execute();
  }

  async children(parentPipelineId: number): Promise<{ pipeline: Pipeline; parentJobId: number }[]> {
    const rows = await this.db
      .selectFrom('pipelines')
      .innerJoin('jobs', 'jobs.id', 'pipelines.parent_job_id')
      .selectAll('pipelines')
      .where('jobs.pipeline_id', '=', parentPipelineId)
      .where('pipelines.id', '!=', parentPipelineId)
      .orderBy('pipelines.id')
      .execute();
    return rows.map((row) => ({ pipeline: toPipeline(row), parentJobId: row.parent_job_id ?? 0 }));
  }
}
