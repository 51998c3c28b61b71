// Replica hints over LISTEN/NOTIFY on a real PostgreSQL: a burst of hints (a busy hub publishes one per
// build event) all arrive, in order, while the one connection never runs two queries at once.

import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guardPgSerialQueries } from '../../test/support/pg-serial-guard.js';
import { postgresSkip, testPostgresOnce } from '../../test/support/store-backends.js';
import { connectReplicaSignals, type ReplicaSignals } from './signals.js';

const unavailable = postgresSkip('replica signals on PostgreSQL');

describe.skipIf(unavailable !== undefined)('replica signals', () => {
  const server = testPostgresOnce();
  const violations = guardPgSerialQueries();
  const log = pino({ level: 'silent' });
  let a: ReplicaSignals;
  let b: ReplicaSignals;

  beforeAll(async () => {
    const url = await (await server()).createDatabase('signals');
    a = await connectReplicaSignals(url, 'replica-a', log);
    b = await connectReplicaSignals(url, 'replica-b', log);
  });
  afterAll(async () => {
    await a.close();
    await b.close();
  });

  it('delivers a burst of hints to every replica, in order, one query at a time per connection', async () => {
    const sent = Array.from({ length: 500 }, (_, i) => `replica-a 7 ${i + 1}`);
    const seen: string[] = [];
    const all = new Promise<void>((resolve) =>
      b.on('build_events', (payload) => {
        if (seen.push(payload) === sent.length) resolve();
      }),
    );
    // All in one tick, with a read of the live replicas in the middle, as a busy hub does.
    const live = a.liveReplicas();
    for (const payload of sent) a.publish('build_events', payload);
    expect(await live).toEqual(new Set(['replica-a', 'replica-b']));
    await all;
    expect(seen).toEqual(sent);
    expect(violations).toEqual([]);
  });
});
