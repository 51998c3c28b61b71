// The Store's dispatch shared by hub replicas (PostgreSQL): the queue of pending step runs that every
// replica claims from, which replica holds each lease, and aborts waiting for the lease's holder.
// A claim locks the row with FOR UPDATE SKIP LOCKED (where rows locks exist): replicas draining at once
// never wait on each other's rows, and a row is claimed by one of them only.

import type { Kysely } from 'kysely';
import { json, num, toStepRun } from './rows.js';
import type { Database } from './schema.js';
import type { HeldLease, QueuedStepRun, ReplicaDispatchStore, StepEndingRequest } from './store.js';

const LIVE = ['assigned', 'running'];

export class KyselyReplicaDispatch implements ReplicaDispatchStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly rowLocks: boolean,
  ) {}

  async queue(
    stepRunId: number,
    preferAgent: string | undefined,
    at: number,
    reason?: string,
  ): Promise<void> {
    await this.db
      .updateTable('step_runs')
      .set({ queued_at: at, prefer_agent: preferAgent ?? null, waiting_reason: reason ?? null })
      .where('id', '=', stepRunId)
      .where('status', '=', 'pending')
      .where('lease_id', 'is', null)
      .execute();
  }

  async queued(): Promise<QueuedStepRun[]> {
    const rows = await this.db
      .selectFrom('step_runs')
      .selectAll()
      .where('status', '=', 'pending')
      .where('queued_at', 'is not', null)
      .orderBy('id')
      .execute();
    return rows.map((row) => ({
      run: toStepRun(row),
      queuedAt: num(row.queued_at ?? 0),
      preferAgent: row.prefer_agent ?? undefined,
      reason: row.waiting_reason ?? undefined,
    }));
  }

  async waiting(stepRunId: number, reason: string): Promise<void> {
    await this.db
      .updateTable('step_runs')
      .set({ waiting_reason: reason })
      .where('id', '=', stepRunId)
      .where('status', '=', 'pending')
      .where('queued_at', 'is not', null)
      .execute();
  }

  async waitingReason(stepRunId: number): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('step_runs')
      .select('waiting_reason')
      .where('id', '=', stepRunId)
      .where('status', '=', 'pending')
      .where('queued_at', 'is not', null)
      .executeTakeFirst();
    return row?.waiting_reason ?? undefined;
  }

  async claim(
    stepRunId: number,
    lease: { leaseId: string; agentName: string; pool: string; holder: string },
  ): Promise<boolean> {
    // One statement (one round trip and commit, as a dispatcher claims one step at a time): the row is
    // picked only if no other replica has it locked, and updated only if still pending and unleased.
    let pick = this.db
      .selectFrom('step_runs')
      .select('id')
      .where('id', '=', stepRunId)
      .where('status', '=', 'pending')
      .where('lease_id', 'is', null);
    if (this.rowLocks) pick = pick.forUpdate().skipLocked();
    const claimed = await this.db
      .updateTable('step_runs')
      .set({
        status: 'assigned',
        lease_id: lease.leaseId,
        agent_name: lease.agentName,
        pool: lease.pool,
        holder: lease.holder,
        queued_at: null,
        prefer_agent: null,
        waiting_reason: null,
      })
      .where('id', 'in', pick)
      .executeTakeFirst();
    return claimed.numUpdatedRows > 0n;
  }

  async hold(
    stepRunId: number,
    leaseId: string,
    holder: string,
    fromHolder?: string | null,
  ): Promise<boolean> {
    let update = this.db
      .updateTable('step_runs')
      .set({ holder })
      .where('id', '=', stepRunId)
      .where('lease_id', '=', leaseId)
      .where('status', 'in', LIVE);
    if (fromHolder !== undefined)
      update = update.where((eb) =>
        fromHolder === null ? eb('holder', 'is', null) : eb('holder', '=', fromHolder),
      );
    return (await update.executeTakeFirst()).numUpdatedRows > 0n;
  }

  async held(): Promise<HeldLease[]> {
    const rows = await this.db
      .selectFrom('step_runs')
      .selectAll()
      .where('status', 'in', LIVE)
      .where('lease_id', 'is not', null)
      .orderBy('id')
      .execute();
    return rows.map((row) => ({ run: toStepRun(row), holder: row.holder }));
  }

  async requestAbort(
    stepRunId: number,
    ending: StepEndingRequest,
    at: number,
  ): Promise<'ended' | 'asked' | 'over'> {
    const ended = await this.db
      .updateTable('step_runs')
      .set({ status: ending.status, error: ending.error, ended_at: at, queued_at: null })
      .where('id', '=', stepRunId)
      .where('status', '=', 'pending')
      .where('lease_id', 'is', null)
      .executeTakeFirst();
    if (ended.numUpdatedRows > 0n) return 'ended';
    const asked = await this.db
      .updateTable('step_runs')
      .set({ abort_ending: json(ending) })
      .where('id', '=', stepRunId)
      .where('status', 'in', LIVE)
      .executeTakeFirst();
    return asked.numUpdatedRows > 0n ? 'asked' : 'over';
  }

  async abortsFor(
    holder: string,
  ): Promise<{ stepRunId: number; leaseId: string; ending: StepEndingRequest }[]> {
    const rows = await this.db
      .selectFrom('step_runs')
      .select(['id', 'lease_id', 'abort_ending'])
      .where('holder', '=', holder)
      .where('status', 'in', LIVE)
      .where('abort_ending', 'is not', null)
      .execute();
    return rows.map((row) => ({
      stepRunId: row.id,
      leaseId: row.lease_id ?? '',
      ending: JSON.parse(row.abort_ending ?? '{}') as StepEndingRequest,
    }));
  }
}
