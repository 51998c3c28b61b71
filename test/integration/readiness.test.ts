// /readyz reflects the store: a hub whose database stops answering is taken out of the load balancer
// (503 naming the database), while /healthz still says the process lives.

import { rm } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { startTestHub } from '../support/harness.js';

describe('readiness', () => {
  it('is 503 naming the database once the store no longer answers', async () => {
    const hub = await startTestHub();
    try {
      expect((await fetch(`${hub.url}/readyz`)).status).toBe(200);
      // The store gone from under a running hub, as a database that went away.
      await hub.store.close();
      const res = await fetch(`${hub.url}/readyz`);
      expect(res.status).toBe(503);
      expect(((await res.json()) as { reason: string }).reason).toMatch(/^the database failed a query: /);
      expect((await fetch(`${hub.url}/healthz`)).status).toBe(200);
    } finally {
      await hub.close().catch(() => undefined);
      await rm(hub.dir, { recursive: true, force: true });
    }
  });
});
