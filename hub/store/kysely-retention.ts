// The Store's build retention on Kysely: jobs' build_log_retention applied, and resource cache entries
// no build uses let go after a day so their blobs can be collected.

import type { Kysely } from 'kysely';
import type { Database } from './schema.js';
import { TERMINAL_BUILD_STATUSES } from './store.js';
import type { BuildRetention, Store } from './store.js';

const RESOURCE_CACHE_TTL_MS = 86_400_000;

export class KyselyRetention implements Pick<Store, 'reapBuilds'> {
  constructor(private readonly db: Kysely<Database>) {}

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
