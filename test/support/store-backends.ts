// The backends a store test runs on: SQLite (the embedded default) and PostgreSQL (a throwaway server,
// test/support/postgres.ts). `describe.each(storeBackends())` at a test file's top level runs its tests
// on both. The server starts at the first PostgreSQL open and stops after the file; each open gets a
// fresh database, copied from a template migrated once. Without PostgreSQL on this machine its tests
// are left out with the reason printed, or under OUTPOST_REQUIRE_ALL=1 they fail naming it.

import { afterAll, afterEach, expect } from 'vitest';
import { openPostgresStore } from '../../hub/store/postgres.js';
import { openSqliteStore } from '../../hub/store/sqlite.js';
import type { Store } from '../../hub/store/store.js';
import { guardPgSerialQueries } from './pg-serial-guard.js';
import { postgresUnavailable, startTestPostgres, type TestPostgres } from './postgres.js';
import { requireAll, requiredMessage } from './require-all.js';

export type StoreBackend = [name: string, open: () => Promise<Store>];

const TEMPLATE = 'outpost_template';

/** A PostgreSQL server for this test file, started on first use and stopped after the file. */
export function testPostgresOnce(): () => Promise<TestPostgres> {
  let server: Promise<TestPostgres> | undefined;
  afterAll(async () => {
    if (server) await (await server).stop();
  });
  return () => {
    const unavailable = postgresUnavailable();
    if (unavailable !== undefined) return Promise.reject(new Error(requiredMessage(unavailable)));
    server ??= startTestPostgres();
    return server;
  };
}

/** PostgreSQL databases for one test file: each call a fresh, migrated one. */
export function postgresDatabases(): () => Promise<string> {
  const server = testPostgresOnce();
  let template: Promise<void> | undefined;
  let count = 0;
  return async () => {
    const pg = await server();
    template ??= pg.createDatabase(TEMPLATE).then(async (url) => (await openPostgresStore({ url })).close());
    await template;
    return pg.createDatabase(`test_${++count}`, TEMPLATE);
  };
}

/**
 * For a file of PostgreSQL tests (`describe.skipIf(postgresSkip(...) !== undefined)`): undefined when
 * they can run; else why not, printed, or under OUTPOST_REQUIRE_ALL=1 thrown.
 */
export function postgresSkip(what: string): string | undefined {
  const unavailable = postgresUnavailable();
  if (unavailable === undefined) return undefined;
  if (requireAll) throw new Error(requiredMessage(unavailable));
  console.log(`skipped: ${what}: ${unavailable}`);
  return unavailable;
}

/**
 * SQLite in memory and, when it can run here (or must), PostgreSQL. Every test on PostgreSQL also fails
 * if a `pg` client was given a query while it ran another (test/support/pg-serial-guard.ts).
 */
export function storeBackends(): StoreBackend[] {
  const backends: StoreBackend[] = [['sqlite', () => openSqliteStore({ memory: true })]];
  if (postgresSkip('the PostgreSQL store tests') !== undefined) return backends;
  const violations = guardPgSerialQueries();
  afterEach(() => expect(violations, 'pg clients given a query while running one').toEqual([]));
  const database = postgresDatabases();
  backends.push(['postgres', async () => openPostgresStore({ url: await database() })]);
  return backends;
}
