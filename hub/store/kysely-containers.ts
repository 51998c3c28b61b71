// ContainerStore on Kysely: a team's step runs that `outpost containers` lists (fly's containers):
// those running, failed ones recent enough that their agent may still keep them for intercept, and
// succeeded ones their agent keeps until their build ends (as long as a failed one if it did not succeed).

import type { Kysely } from 'kysely';
import { toStepRun } from './rows.js';
import type { Database } from './schema.js';
import type { ContainerStore, StepRun } from './store.js';

export class KyselyContainerStore implements ContainerStore {
  constructor(private readonly db: Kysely<Database>) {}

  async list(teamId: number, failedSince: number): Promise<StepRun[]> {
    const rows = await this.db
      .selectFrom('step_runs')
      .innerJoin('builds', 'builds.id', 'step_runs.build_id')
      .selectAll('step_runs')
      .where('builds.team_id', '=', teamId)
      .where((eb) =>
        eb.or([
          eb('step_runs.status', '=', 'running'),
          eb.and([
            eb('step_runs.status', '=', 'failed'),
            eb('step_runs.ended_at', '>=', failedSince),
            eb('step_runs.lease_id', 'is not', null),
            eb('step_runs.agent_name', 'is not', null),
          ]),
          eb.and([
            eb('step_runs.status', '=', 'succeeded'),
            eb('step_runs.lease_id', 'is not', null),
            eb('step_runs.agent_name', 'is not', null),
            eb.or([
              eb('builds.status', 'in', ['pending', 'started']),
              eb.and([
                eb('builds.status', 'in', ['failed', 'errored', 'aborted']),
                eb('builds.ended_at', '>=', failedSince),
              ]),
            ]),
          ]),
        ]),
      )
      .orderBy('step_runs.id')
      .execute();
    return rows.map(toStepRun);
  }
}
