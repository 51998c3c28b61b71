// A state change and the build events that announce it (store.ts Announcement) in one transaction:
// a step's assignment, start and end, a build's start and end each cost one commit, not two, and an
// event is never stored without its state nor its state without the event.

import type { Kysely } from 'kysely';
import type { CommitBatch } from './commit-batch.js';
import type { CompiledQueries } from './compiled-queries.js';
import { insertEvents } from './kysely-build-log.js';
import type { Database } from './schema.js';
import type { Announcement } from './store.js';

/**
 * Runs `change` on `db`, and with an announcement in a transaction that stores its events too when
 * `applied` says the change was made (a fenced update that did not match stores nothing). The
 * announcement hears of its stored events after the commit. `deferTo`: a batch the transaction's
 * commit joins (Store WriteOptions.deferCommit); the announcement then hears at once, before that
 * commit, so that whoever waits for the change knows its events are stored with it.
 */
export async function withAnnouncement<T>(
  db: Kysely<Database>,
  rowLocks: boolean,
  /** Where the event insert is compiled once (the caller's queries). */
  compiled: CompiledQueries<Database>,
  announcement: Announcement | undefined,
  change: (db: Kysely<Database>) => Promise<T>,
  applied: (result: T) => boolean = () => true,
  deferTo?: CommitBatch,
): Promise<T> {
  const events = announcement?.events ?? [];
  if (events.length === 0 && !deferTo) return change(db);
  const { result, stored } = await db.transaction().execute(async (trx) => {
    const result = await change(trx);
    const stored =
      events.length > 0 && applied(result) ? await insertEvents(trx, rowLocks, events, compiled) : [];
    deferTo?.deferCommit();
    return { result, stored };
  });
  if (stored.length > 0) announcement?.stored(stored);
  return result;
}
