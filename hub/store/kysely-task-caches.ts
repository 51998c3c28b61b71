// TaskCacheStore on Kysely: the generation of each job step's task caches. Agents keep caches per
// generation; clear-task-cache starts a new one, so the step's next build finds them empty.

import type { Kysely } from 'kysely';
import type { Database } from './schema.js';
import type { TaskCacheStore } from './store.js';

export class KyselyTaskCacheStore implements TaskCacheStore {
  constructor(private readonly db: Kysely<Database>) {}

  async generation(jobId: number, stepName: string): Promise<number> {
    const row = await this.db
      .selectFrom('task_cache_generations')
      .select('generation')
      .where('job_id', '=', jobId)
      .where('step_name', '=', stepName)
      .executeTakeFirst();
    return row?.generation ?? 0;
  }

  async clear(jobId: number, stepName: string): Promise<void> {
    await this.db
      .insertInto('task_cache_generations')
      .values({ job_id: jobId, step_name: stepName, generation: 1 })
      .onConflict((oc) =>
        oc
          .columns(['job_id', 'step_name'])
          .doUpdateSet((eb) => ({ generation: eb('task_cache_generations.generation', '+', 1) })),
      )
      .execute();
  }
}
