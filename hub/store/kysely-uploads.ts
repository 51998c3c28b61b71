// UploadStore on Kysely: the outputs a lease uploaded (one row per output name, the latest upload wins).

import type { Kysely } from 'kysely';
import { num } from './rows.js';
import type { Database } from './schema.js';
import type { StepUpload, UploadStore } from './store.js';

export class KyselyUploadStore implements UploadStore {
  constructor(private readonly db: Kysely<Database>) {}

  async record(upload: StepUpload): Promise<void> {
    await this.db
      .insertInto('step_uploads')
      .values({
        step_run_id: upload.stepRunId,
        lease_id: upload.leaseId,
        name: upload.name,
        digest: upload.digest,
        size: upload.size,
      })
      .onConflict((oc) =>
        oc.columns(['lease_id', 'name']).doUpdateSet({ digest: upload.digest, size: upload.size }),
      )
      .execute();
  }

  async ofLease(leaseId: string): Promise<StepUpload[]> {
    const rows = await this.db
      .selectFrom('step_uploads')
      .selectAll()
      .where('lease_id', '=', leaseId)
      .execute();
    return rows.map((r) => ({
      stepRunId: r.step_run_id,
      leaseId: r.lease_id,
      name: r.name,
      digest: r.digest,
      size: num(r.size),
    }));
  }
}
