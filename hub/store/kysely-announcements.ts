// A state change and the build events that announce it (store.ts Announcement) in one transaction:
// a step's assignment, start and end, a build's start and end each cost one commit, not two, and an
// event is never stored without its state nor its state without the event.

import type { Kysely } from 'kysely';
import type { CompiledQueries } from './compiled-queries.js';
import { insertEvents } from './kysely-build-log.js';
import type { Database } from './schema.js';
import type { Announcement } from './store.js';

/**
 * Runs `change` on `db`, and with an announcement in a transaction that stores its events too when
 * `applied` says the change was made (a fenced update that did not match stores nothing). The
 * announcement hears of its stored events after the commit.
 */
export async function withAnnouncement<T>(
  db: Kysely<Database>,
  rowLocks: boolean,
  /** Where the event insert is compiled once (the caller's queries). */
  compiled: CompiledQueries<Database>,
  announcement: Announcement | undefined,
  change: (db: Kysely<Database>) => Promise<T>,
  applied: (result: T) => boolean = () => true,
): Promise<T> {
  if (!announcement || announcement.events.length === 0) return change(db);
  const { result, stored } = await db.transaction().execute(async (trx) => {
    const result = await change(trx);
    return {
      result,
      stored: applied(result) ? await insertEvents(trx, rowLocks, announcement.events, compiled) : [],
    };
  });
  if (stored.length > 0) announcement.stored(stored);
  return result;
}
