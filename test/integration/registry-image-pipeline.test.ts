// registry-image on process pools through a real hub and agents, against a real registry with
// htpasswd auth (Debian's docker-registry): the check waits, naming the type, while the only agent's
// pool does not run registry-image; once an agent that does connects, the check runs there, a job
// gets the image's rootfs and its image tarball, a task reads them, and a put pushes the tarball
// under a new version tag.

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildSummary, ResourceVersionSummary } from '../../hub/api/types.js';
import {
  logText,
  readBuildEvents,
  setPipeline,
  startTestAgent,
  startTestHub,
  triggerJob,
  type TestHub,
} from '../support/harness.js';
import { eventually } from '../support/eventually.js';
import {
  buildImage,
  pushImage,
  registryUnavailable,
  startRegistry,
  type BuiltImage,
  type TestRegistry,
} from '../support/registry.js';
import { requireAll, requiredMessage } from '../support/require-all.js';

const PASSWORD = 'registry-Secret-77';
const unavailable = registryUnavailable();
if (unavailable && requireAll) throw new Error(requiredMessage(unavailable));
if (unavailable) console.log(`skipped: ${unavailable}`);

let hub: TestHub;
const agents: Awaited<ReturnType<typeof startTestAgent>>[] = [];
let root: string;
let registry: TestRegistry;
let image: BuiltImage;

async function finished(id: number): Promise<BuildSummary> {
  return eventually(
    `build ${id}`,
    async () => {
      const res = await hub.api<BuildSummary>('GET', `/builds/${id}`);
      return ['pending', 'started'].includes(res.body.status) ? undefined : res.body;
    },
    60_000,
  );
}

describe.skipIf(unavailable !== undefined)('a registry-image pipeline on process pools', () => {
  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'outpost-registry-pipeline-'));
    registry = await startRegistry(path.join(root, 'registry'), {
      auth: 'htpasswd',
      user: 'ci',
      password: PASSWORD,
    });
    image = await buildImage(path.join(root, 'build'), [{ 'etc/motd': 'hello from the image\n' }], {
      Env: ['GREETING=hi'],
    });
    await pushImage(registry, 'team/app', ['stable'], image, [], { user: 'ci', password: PASSWORD });
    hub = await startTestHub({ checkTickMs: 200, scheduleTickMs: 500 });
    agents.push(
      await startTestAgent(hub, {
        name: 'no-registry',
        pools: '  - name: local\n    platform: linux\n    capacity: 4\n    builtin_types: [git, mock, time]',
      }),
    );
    await agents[0]?.welcomed;
  }, 60_000);

  afterAll(async () => {
    for (const agent of agents) await agent.stop();
    await hub.close();
    await registry.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('waits for a pool that runs registry-image, then checks, gets, runs a task and pushes', async () => {
    const source = `{ repository: ${registry.host}/team/app, tag: stable, username: ci, password: ${PASSWORD} }`;
    await setPipeline(
      hub,
      'images',
      `resources:
- name: app
  type: registry-image
  check_every: never
  source: ${source}
- name: copy
  type: registry-image
  check_every: never
  source: { repository: ${registry.host}/team/copy, username: ci, password: ${PASSWORD} }
jobs:
- name: use
  plan:
  - get: app
  - get: app-tarball
    resource: app
    params: { format: oci }
  - task: read
    config:
      platform: linux
      inputs: [{ name: app }, { name: app-tarball }]
      run:
        path: sh
        args: [-ec, 'cat app/rootfs/etc/motd app/repository; echo; cat app/digest; echo; cat app/metadata.json; ls app-tarball']
  - put: copy
    params: { image: app-tarball/image.tar, version: 1.4.0 }
`,
    );
    const check = await hub.api<BuildSummary>('POST', '/teams/main/pipelines/images/resources/app/check', {});
    expect(check.status).toBe(201);
    await eventually('the waiting reason', async () => {
      const res = await hub.api<BuildSummary & { waitingReason?: string }>('GET', `/builds/${check.body.id}`);
      return res.body.waitingReason === 'no connected agent offers the built-in resource type registry-image'
        ? true
        : undefined;
    });

    agents.push(await startTestAgent(hub, { name: 'with-registry' }));
    await agents[1]?.welcomed;
    expect((await finished(check.body.id)).status).toBe('succeeded');
    const versions = await hub.api<ResourceVersionSummary[]>(
      'GET',
      '/teams/main/pipelines/images/resources/app/versions',
    );
    expect(versions.body.map((v) => v.version)).toEqual([{ tag: 'stable', digest: image.digest }]);

    const buildId = await triggerJob(hub, 'images', 'use');
    const build = await finished(buildId);
    const log = logText(await readBuildEvents(hub, buildId));
    expect(build.status, log).toBe('succeeded');
    expect(log).toContain(`hello from the image\n${registry.host}/team/app\n${image.digest}\n`);
    expect(log).toContain('"env":["GREETING=hi"]');
    expect(log).toContain('image.tar');
    expect(log).not.toContain(PASSWORD);

    // The put's version is the pushed tag and the image's digest.
    const pushed = await hub.api<ResourceVersionSummary[]>(
      'GET',
      '/teams/main/pipelines/images/resources/copy/versions',
    );
    expect(pushed.body.map((v) => v.version.tag)).toEqual(['1.4.0']);
  }, 120_000);
});
