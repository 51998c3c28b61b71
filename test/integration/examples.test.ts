// The pipelines the docs show, run as written through a real hub and agent.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import type { BuildSummary } from '../../hub/api/types.js';
import {
  logText,
  readBuildEvents,
  setPipeline,
  startTestAgent,
  startTestHub,
  triggerJob,
  type TestHub,
} from '../support/harness.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function finished(hub: TestHub, route: string, name: string): Promise<BuildSummary> {
  const until = Date.now() + 60_000;
  for (;;) {
    const build = (await hub.api<BuildSummary[]>('GET', route)).body.find((b) => b.name === name);
    if (build && !['pending', 'started'].includes(build.status)) return build;
    if (Date.now() > until) throw new Error(`${route} #${name} not finished in 60 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

it('examples/handoff.yml: a job puts a value to a resource and the next job gets it', async () => {
  const hub = await startTestHub();
  cleanups.push(() => hub.close());
  const agent = await startTestAgent(hub);
  cleanups.push(() => agent.stop());
  await agent.welcomed;
  await setPipeline(hub, 'handoff', await readFile(path.join(ROOT, 'examples', 'handoff.yml'), 'utf8'));

  await triggerJob(hub, 'handoff', 'build');
  const build = await finished(hub, '/teams/main/pipelines/handoff/jobs/build/builds', '1');
  expect(build.status).toBe('succeeded');
  const wrote = /wrote (build-\d+)/.exec(logText(await readBuildEvents(hub, build.id)))?.[1];
  expect(wrote).toBeDefined();

  // Nobody triggers deploy: the put's new version does.
  const deploy = await finished(hub, '/teams/main/pipelines/handoff/jobs/deploy/builds', '1');
  expect(deploy.status).toBe('succeeded');
  expect(logText(await readBuildEvents(hub, deploy.id))).toContain(`deploying ${wrote}\n`);
}, 90_000);
