// OneOffStore on Kysely: each team's hidden pipeline and job for one-off builds, and the input archives
// the team uploaded for them.

import type { Kysely } from 'kysely';
import { toJob } from './rows.js';
import type { Database } from './schema.js';
import type { Job, OneOffStore } from './store.js';

/**
 * The hidden pipeline's and job's name. Not a valid identifier, so it never collides with a pipeline or
 * job a user names; the hidden pipeline is also left out of every pipeline lookup by its kind.
 */
export const ONE_OFF_NAME = ':one-off';
const KIND = 'one-off';

export class KyselyOneOffStore implements OneOffStore {
  constructor(private readonly db: Kysely<Database>) {}

  async jobOf(teamId: number, at: number): Promise<Job> {
    const row = await this.db.transaction().execute(async (trx) => {
      // Insert-if-absent on the (team_id, name) unique constraint: concurrent first uses create one.
      await trx
        .insertInto('pipelines')
        .values({
          team_id: teamId,
          name: ONE_OFF_NAME,
          kind: KIND,
          paused: 0,
          config_version: 0,
          created_at: at,
          updated_at: at,
        })
        .onConflict((oc) => oc.columns(['team_id', 'name']).doNothing())
        .execute();
      const pipeline = await trx
        .selectFrom('pipelines')
        .select('id')
        .where('team_id', '=', teamId)
        .where('name', '=', ONE_OFF_NAME)
        .executeTakeFirstOrThrow();
      await trx
        .insertInto('jobs')
        .values({
          pipeline_id: pipeline.id,
          name: ONE_OFF_NAME,
          kind: KIND,
          plan: JSON.stringify({ id: 'one-off', kind: 'do', steps: [] }),
          active: 1,
          config_order: 0,
        })
        .onConflict((oc) => oc.columns(['pipeline_id', 'name']).doNothing())
        .execute();
      return trx
        .selectFrom('jobs')
        .selectAll()
        .where('pipeline_id', '=', pipeline.id)
        .where('name', '=', ONE_OFF_NAME)
        .executeTakeFirstOrThrow();
    });
    return toJob(row);
  }

  async recordUpload(teamId: number, digest: string, at: number): Promise<void> {
    await this.db
      .insertInto('team_artifacts')
      .values({ team_id: teamId, digest, created_at: at })
      .onConflict((oc) => oc.columns(['team_id', 'digest']).doNothing())
      .execute();
  }

  async notUploaded(teamId: number, digests: string[]): Promise<string[]> {
    if (digests.length === 0) return [];
    const rows = await this.db
      .selectFrom('team_artifacts')
      .select('digest')
      .where('team_id', '=', teamId)
      .where('digest', 'in', digests)
      .execute();
    const known = new Set(rows.map((r) => r.digest));
    return digests.filter((d) => !known.has(d));
  }
}
