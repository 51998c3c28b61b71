// A pipeline of Concourse's documentation shape on a process pool, through a real hub and agent: a
// `git` resource checked with `paths` from a repository served by `git http-backend` behind basic
// auth, a task that commits a change, and a put that rebases, tags and pushes it back.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { BuildSummary, ResourceVersionSummary } from '../../hub/api/types.js';
import { gitIn, startGitHttpServer, type GitServer } from '../support/git-servers.js';
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

const PASSWORD = 'pipeline-Secret-42';

let hub: TestHub;
let agent: Awaited<ReturnType<typeof startTestAgent>>;
let root: string;
let server: GitServer;
let srcCommit: string;
let docsCommit: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'outpost-git-pipeline-'));
  gitIn(root, 'init', '-q', '--bare', '-b', 'main', 'app.git');
  const seed = path.join(root, 'seed');
  gitIn(root, 'init', '-q', '-b', 'main', 'seed');
  await writeFile(path.join(seed, 'app.sh'), 'echo app\n');
  gitIn(seed, 'add', '.');
  gitIn(seed, 'commit', '-q', '-m', 'app');
  srcCommit = gitIn(seed, 'rev-parse', 'HEAD');
  await writeFile(path.join(seed, 'README'), 'docs\n');
  gitIn(seed, 'add', '.');
  gitIn(seed, 'commit', '-q', '-m', 'docs only');
  docsCommit = gitIn(seed, 'rev-parse', 'HEAD');
  gitIn(seed, 'push', '-q', path.join(root, 'app.git'), 'main');
  server = await startGitHttpServer(root, 'ci', PASSWORD);
  hub = await startTestHub({ checkTickMs: 200, scheduleTickMs: 500 });
  agent = await startTestAgent(hub, {
    name: 'agent-1',
    pools: '  - name: local\n    platform: linux\n    capacity: 4',
  });
  await agent.welcomed;
}, 60_000);

afterAll(async () => {
  await agent.stop();
  await hub.close();
  await server.close();
  await rm(root, { recursive: true, force: true });
});

it('checks with paths, runs a task on the checkout, and tags and pushes the result', async () => {
  await setPipeline(
    hub,
    'app',
    `resources:
- name: repo
  type: git
  check_every: never
  source:
    uri: ${server.url('app.git')}
    branch: main
    username: ci
    password: ${PASSWORD}
    paths: ['*.sh']
jobs:
- name: build
  plan:
  - get: repo
  - task: build
    config:
      platform: linux
      inputs: [{ name: repo }]
      outputs: [{ name: built }, { name: version }]
      run:
        path: sh
        args:
        - -ec
        - |
          cat repo/.git/short_ref; echo; cat repo/.git/commit_message
          git clone -q repo built
          cd built
          echo built > artifact.txt
          git add artifact.txt
          git -c user.name=ci -c user.email=ci@example.com commit -q -m "build artifact [ci skip]"
          echo 1.2.3 > ../version/number
  - put: repo
    params: { repository: built, rebase: true, tag: version/number, tag_prefix: v }
`,
  );
  const check = await hub.api<BuildSummary>('POST', '/teams/main/pipelines/app/resources/repo/check', {});
  expect(check.status).toBe(201);
  const checked = await eventually(
    'the check',
    async () => {
      const res = await hub.api<BuildSummary>('GET', `/builds/${check.body.id}`);
      return ['pending', 'started'].includes(res.body.status) ? undefined : res.body;
    },
    60_000,
  );
  expect(checked.status).toBe('succeeded');
  const versions = await hub.api<ResourceVersionSummary[]>(
    'GET',
    '/teams/main/pipelines/app/resources/repo/versions',
  );
  // The docs-only commit is newer, but only app.sh counts.
  expect(versions.body.map((v) => v.version.ref)).toEqual([srcCommit]);

  const buildId = await triggerJob(hub, 'app', 'build');
  const build = await eventually(
    'the build',
    async () => {
      const res = await hub.api<BuildSummary>('GET', `/builds/${buildId}`);
      return ['pending', 'started'].includes(res.body.status) ? undefined : res.body;
    },
    60_000,
  );
  const log = logText(await readBuildEvents(hub, buildId));
  expect(build.status, log).toBe('succeeded');
  expect(log).toContain(`${srcCommit.slice(0, 7)}\napp\n`);
  expect(log).not.toContain(PASSWORD);

  const bare = path.join(root, 'app.git');
  expect(gitIn(bare, 'show', 'main:artifact.txt')).toBe('built');
  expect(gitIn(bare, 'rev-parse', 'v1.2.3^{commit}')).toBe(gitIn(bare, 'rev-parse', 'main'));
  // The build's commit was rebased onto the newer docs-only commit.
  expect(gitIn(bare, 'rev-parse', 'main~1')).toBe(docsCommit);
}, 120_000);
