// The resource cache is per team (issue 15, fenced data): a version one team's agent fetched is reused
// by that team's later builds, never handed to another team's, so a poisoned fetch stays in its team.

import { expect, it } from 'vitest';
import { cleanupAfterEach } from '../support/cleanups.js';
import { logText, readBuildEvents, startTestAgent, startTestHub, type TestHub } from '../support/harness.js';

const defer = cleanupAfterEach();

const PIPELINE = `resources:
- name: r
  type: mock
  source: {initial_version: v1}
jobs:
- name: job
  plan:
  - get: r
`;

async function build(hub: TestHub, team: string): Promise<string> {
  const res = await hub.api<{ id: number }>('POST', `/teams/${team}/pipelines/p/jobs/job/builds`);
  expect(res.status).toBe(201);
  return logText(await readBuildEvents(hub, res.body.id));
}

it("reuses a team's own resource cache and never another team's", async () => {
  const hub = await startTestHub();
  defer(() => hub.close());
  const agent = await startTestAgent(hub);
  defer(() => agent.stop());
  expect((await hub.api('PUT', '/teams/alpha', { members: [] })).status).toBeLessThan(300);
  for (const team of ['main', 'alpha']) {
    expect((await hub.api('PUT', `/teams/${team}/pipelines/p/config`, { source: PIPELINE })).status).toBe(
      200,
    );
    expect((await hub.api('PUT', `/teams/${team}/pipelines/p/unpause`)).status).toBe(204);
  }
  const CACHED = 'INFO: found existing resource cache';
  expect(await build(hub, 'main')).not.toContain(CACHED);
  expect(await build(hub, 'main')).toContain(CACHED);
  // The same resource, source and version in another team: fetched by its own get, not from main's cache.
  expect(await build(hub, 'alpha')).not.toContain(CACHED);
  expect(await build(hub, 'alpha')).toContain(CACHED);
});
