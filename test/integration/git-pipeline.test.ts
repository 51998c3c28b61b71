// A pipeline of Concourse's documentation shape, through a real hub and agent: a `git` resource
// checked with `paths` from a repository served by `git http-backend` behind basic auth, a task that
// commits a change, and a put that rebases, tags and pushes it back. It runs on a process pool and on
// a Kubernetes pool of the fake cluster (test/support/fake-k8s): there the get, put and check of the
// built-in `git` type run inside the agent, and the task runs in a pod that receives the checkout and
// hands its outputs back.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildSummary, ResourceVersionSummary } from '../../hub/api/types.js';
import { DOCUMENTED_RBAC } from '../../agent/executors/kubernetes/rbac.js';
import { startFakeKube, type FakeKube } from '../support/fake-k8s/index.js';
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
const NS = 'ci';

let hub: TestHub;
let agent: Awaited<ReturnType<typeof startTestAgent>>;
let fake: FakeKube;
let root: string;
let server: GitServer;

/** A bare repository `<name>.git` with a commit touching app.sh, then a newer docs-only one. */
async function seedRepository(name: string): Promise<{ srcCommit: string; docsCommit: string }> {
  gitIn(root, 'init', '-q', '--bare', '-b', 'main', `${name}.git`);
  const seed = path.join(root, `${name}-seed`);
  gitIn(root, 'init', '-q', '-b', 'main', seed);
  await writeFile(path.join(seed, 'app.sh'), 'echo app\n');
  gitIn(seed, 'add', '.');
  gitIn(seed, 'commit', '-q', '-m', 'app');
  const srcCommit = gitIn(seed, 'rev-parse', 'HEAD');
  await writeFile(path.join(seed, 'README'), 'docs\n');
  gitIn(seed, 'add', '.');
  gitIn(seed, 'commit', '-q', '-m', 'docs only');
  const docsCommit = gitIn(seed, 'rev-parse', 'HEAD');
  gitIn(seed, 'push', '-q', path.join(root, `${name}.git`), 'main');
  return { srcCommit, docsCommit };
}

/** Every step (the resource's checks included) carries `tags`, which choose the pool. */
function pipeline(repo: string, tags: string[]): string {
  const tagged = tags.length > 0 ? `\n    tags: [${tags.join(', ')}]` : '';
  return `resources:
- name: repo
  type: git
  check_every: never${tagged.replace('\n    ', '\n  ')}
  source:
    uri: ${server.url(`${repo}.git`)}
    branch: main
    username: ci
    password: ${PASSWORD}
    paths: ['*.sh']
jobs:
- name: build
  plan:
  - get: repo${tagged}
  - task: build${tagged}
    config:
      platform: linux
      inputs: [{ name: repo }]
      outputs: [{ name: built }, { name: version }]
      run:
        path: sh
        args:
        - -ec
        - |
          echo "step host: \${HOSTNAME:-none}"
          cat repo/.git/short_ref; echo; cat repo/.git/commit_message
          git clone -q repo built
          cd built
          echo built > artifact.txt
          git add artifact.txt
          git -c user.name=ci -c user.email=ci@example.com commit -q -m "build artifact [ci skip]"
          echo 1.2.3 > ../version/number
  - put: repo${tagged}
    params: { repository: built, rebase: true, tag: version/number, tag_prefix: v }
`;
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'outpost-git-pipeline-'));
  server = await startGitHttpServer(root, 'ci', PASSWORD);
  fake = await startFakeKube({
    namespaces: [NS],
    nodes: [{ name: 'linux-1' }],
    rbac: DOCUMENTED_RBAC.map((r) => ({
      verbs: [...r.verbs],
      resources: [...r.resources],
      namespaces: [NS],
    })),
  });
  const kubeconfig = path.join(root, 'kubeconfig');
  await writeFile(kubeconfig, fake.kubeconfigYaml());
  hub = await startTestHub({ checkTickMs: 200, scheduleTickMs: 500 });
  // One agent, two pools: untagged host processes, and a tagged Kubernetes pool that runs the
  // built-in types inside the agent (its default) and tasks as pods.
  agent = await startTestAgent(hub, {
    name: 'agent-1',
    pools: `  - name: local
    platform: linux
    capacity: 4
  - name: kube
    platform: linux
    executor: kubernetes
    tags: [kube]
    capacity: 4
    kubernetes:
      namespace: ${NS}
      kubeconfig: ${kubeconfig}
      resources: { defaults: { cpu: 100m, memory: 64Mi } }
`,
  });
  await agent.welcomed;
}, 60_000);

afterAll(async () => {
  await agent.stop();
  await hub.close();
  await fake.close();
  await server.close();
  await rm(root, { recursive: true, force: true });
});

describe.each([
  { pool: 'a process pool', tags: [] as string[] },
  { pool: 'a kubernetes pool', tags: ['kube'] },
])('on $pool', ({ tags }) => {
  it('checks with paths, runs a task on the checkout, and tags and pushes the result', async () => {
    const name = tags.length > 0 ? 'kube-app' : 'app';
    const { srcCommit, docsCommit } = await seedRepository(name);
    await setPipeline(hub, name, pipeline(name, tags));
    const check = await hub.api<BuildSummary>(
      'POST',
      `/teams/main/pipelines/${name}/resources/repo/check`,
      {},
    );
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
      `/teams/main/pipelines/${name}/resources/repo/versions`,
    );
    // The docs-only commit is newer, but only app.sh counts.
    expect(versions.body.map((v) => v.version.ref)).toEqual([srcCommit]);

    const buildId = await triggerJob(hub, name, 'build');
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
    // On the kubernetes pool the task ran in the step's pod (its HOSTNAME is the pod's name).
    if (tags.length > 0) expect(log).toMatch(/^step host: outpost-build-/m);
    else expect(log).not.toMatch(/^step host: outpost-/m);

    const bare = path.join(root, `${name}.git`);
    expect(gitIn(bare, 'show', 'main:artifact.txt')).toBe('built');
    // The pushed tag exists in the served repository, on the pushed commit.
    expect(gitIn(bare, 'tag', '--list')).toBe('v1.2.3');
    expect(gitIn(bare, 'rev-parse', 'v1.2.3^{commit}')).toBe(gitIn(bare, 'rev-parse', 'main'));
    // The build's commit was rebased onto the newer docs-only commit.
    expect(gitIn(bare, 'rev-parse', 'main~1')).toBe(docsCommit);
  }, 120_000);
});
