// RerunStore on Kysely: a rerun is a new build of the same job, named after the build it reruns
// (`N.1`, `N.2`, ... as Concourse), that fetches the same input versions.

import type { Kysely } from 'kysely';
import { conflictsAs } from './constraint-errors.js';
import { toBuild } from './rows.js';
import type { Database } from './schema.js';
import { StoreConflictError, type Build, type RerunStore } from './store.js';

export class KyselyRerunStore implements RerunStore {
  constructor(private readonly db: Kysely<Database>) {}

  async create(buildId: number, at: number): Promise<Build> {
    return conflictsAs(`rerun of build ${buildId}`, () =>
      this.db.transaction().execute(async (trx) => {
        const asked = await trx.selectFrom('builds').selectAll().where('id', '=', buildId).executeTakeFirst();
        if (!asked) throw new StoreConflictError(`build ${buildId} does not exist`);
        // A rerun of a rerun is one more rerun of the original: 1.1 -> 1.2.
        const originalId = asked.rerun_of ?? asked.id;
        const original =
          originalId === asked.id
            ? asked
            : await trx
                .selectFrom('builds')
                .selectAll()
                .where('id', '=', originalId)
                .executeTakeFirstOrThrow();
        const job = await trx
          .selectFrom('jobs')
          .select('plan')
          .where('id', '=', asked.job_id)
          .executeTakeFirstOrThrow();
        const { count } = await trx
          .selectFrom('builds')
          .select((eb) => eb.fn.countAll<number | string>().as('count'))
          .where('rerun_of', '=', originalId)
          .executeTakeFirstOrThrow();
        const row = await trx
          .insertInto('builds')
          .values({
            team_id: asked.team_id,
            pipeline_id: asked.pipeline_id,
            job_id: asked.job_id,
            name: `${original.name}.${Number(count) + 1}`,
            status: 'pending',
            plan: job.plan,
            rerun_of: originalId,
            created_at: at,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        const inputs = await trx
          .selectFrom('build_resources')
          .select(['name', 'resource', 'version_id'])
          .where('build_id', '=', asked.id)
          .where('direction', '=', 'input')
          .execute();
        if (inputs.length > 0)
          await trx
            .insertInto('build_resources')
            .values(inputs.map((i) => ({ ...i, build_id: row.id, direction: 'input' })))
            .execute();
        return toBuild(row);
      }),
    );
  }
}
