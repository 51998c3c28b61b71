import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from './sqlite.js';
import type { Store } from './store.js';

describe('KyselyAuditLog', () => {
  let store: Store;
  beforeEach(async () => {
    store = await openSqliteStore({ memory: true });
  });
  afterEach(async () => {
    await store.close();
  });

  it('stores every entry recorded in one turn, more than one insert statement holds', async () => {
    const entries = Array.from({ length: 1_201 }, (_, i) => ({
      at: 1_000 + i,
      actor: `user-${i}`,
      team: 'main',
      action: 'trigger-job',
      target: `/api/v1/teams/main/pipelines/p/jobs/j${i}/builds`,
      source: '127.0.0.1',
      status: 200,
    }));
    await Promise.all(entries.map((e) => store.auditLog.record(e)));
    const stored = await store.auditLog.list({ limit: 10_000 });
    expect(stored.map((e) => e.actor).sort()).toEqual(entries.map((e) => e.actor).sort());
  });
});
