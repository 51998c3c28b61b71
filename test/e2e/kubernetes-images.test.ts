// Which image a step's pod runs, end to end: the real hub and agent, the agent's kubernetes pools on
// the fake API server, and a real registry on loopback (Debian's docker-registry, htpasswd auth) that
// the fake kubelet really pulls from with the pod's imagePullSecrets (fake-k8s/registry-pull.ts). The
// seed pipeline of issue 12 (a registry-image get used as a task's `image:`) runs its pod on the
// digest the get reported; an image a task built is pushed to the pool's registry and runs by digest;
// a pool without a registry, and an artifact that is only a rootfs, refuse the step with the reason.
// client-node's models are classes; the fake's objects are plain JSON of the same shape.
/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildSummary } from '../../hub/api/types.js';
import { startFakeKube, type FakeKube } from '../support/fake-k8s/index.js';
import { eventually } from '../support/eventually.js';
import {
  finalStatus,
  logText,
  readBuildEvents,
  setPipeline,
  startTestAgent,
  startTestHub,
  triggerJob,
  type TestHub,
} from '../support/harness.js';
import {
  buildImage,
  pushImage,
  registryUnavailable,
  startRegistry,
  type BuiltImage,
  type TestRegistry,
} from '../support/registry.js';
import { requireAll, requiredMessage } from '../support/require-all.js';

const NS = 'ci';
const PASSWORD = 'pull-Secret-42';
const unavailable = registryUnavailable();
if (unavailable && requireAll) throw new Error(requiredMessage(unavailable));
if (unavailable) console.log(`skipped: ${unavailable}`);

let root: string;
let registry: TestRegistry;
let image: BuiltImage;
let fake: FakeKube;
let hub: TestHub;
let agent: Awaited<ReturnType<typeof startTestAgent>>;

function pool(name: string, kubeconfig: string, extra: string, tags = ''): string {
  return `  - name: ${name}
    platform: linux
    executor: kubernetes
    capacity: 4
${tags ? `    tags: [${tags}]\n` : ''}    kubernetes:
      namespace: ${NS}
      kubeconfig: ${kubeconfig}
      image_pull_grace_seconds: 1
${extra}`;
}

/** The step's pod as the API server received it. */
function podOf(pipeline: string, step: string): V1Pod {
  const pod = fake
    .createdPods(NS)
    .find(
      (p) =>
        p.metadata.labels?.['outpost.dev/pipeline'] === pipeline &&
        p.metadata.annotations?.['outpost.dev/step'] === step,
    );
  if (!pod) throw new Error(`no pod was created for ${pipeline}/${step}`);
  return pod as V1Pod;
}

async function build(pipeline: string, yaml: string, job = 'job') {
  await setPipeline(hub, pipeline, yaml);
  const events = await readBuildEvents(hub, await triggerJob(hub, pipeline, job));
  return {
    events,
    status: finalStatus(events),
    log: logText(events),
    error: events.find((e) => e.event === 'error')?.data.message as string | undefined,
  };
}

async function checked(pipeline: string, resource: string): Promise<void> {
  const check = await hub.api<BuildSummary>(
    'POST',
    `/teams/main/pipelines/${pipeline}/resources/${resource}/check`,
    {},
  );
  expect(check.status).toBe(201);
  const ended = await eventually(
    `the check of ${resource}`,
    async () => {
      const res = await hub.api<BuildSummary>('GET', `/builds/${check.body.id}`);
      return ['pending', 'started'].includes(res.body.status) ? undefined : res.body;
    },
    60_000,
  );
  expect(ended.status).toBe('succeeded');
}

const ubuntu = () => `resources:
- name: ubuntu
  type: registry-image
  check_every: never
  source: { repository: ${registry.host}/ubuntu, username: ci, password: ${PASSWORD} }
`;

describe.skipIf(unavailable !== undefined)('the image a kubernetes step runs', () => {
  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'outpost-k8s-images-'));
    registry = await startRegistry(path.join(root, 'registry'), {
      auth: 'htpasswd',
      user: 'ci',
      password: PASSWORD,
    });
    image = await buildImage(path.join(root, 'build'), [{ 'etc/motd': 'a tiny ubuntu\n' }]);
    await pushImage(registry, 'ubuntu', ['latest'], image, [], { user: 'ci', password: PASSWORD });
    fake = await startFakeKube({
      namespaces: [NS],
      timing: { imagePullBackoffMs: 100 },
      registries: [registry.host],
    });
    const kubeconfig = path.join(root, 'kubeconfig');
    await writeFile(kubeconfig, fake.kubeconfigYaml());
    const passwordFile = path.join(root, 'registry-password');
    await writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
    hub = await startTestHub({ checkTickMs: 200, scheduleTickMs: 500 });
    agent = await startTestAgent(hub, {
      name: 'k8s-images',
      pools:
        pool(
          'linux',
          kubeconfig,
          `      registry: { repository: ${registry.host}/outpost/built, username: ci, password_file: ${passwordFile} }\n`,
        ) + pool('noregistry', kubeconfig, '', 'noregistry'),
    });
    await agent.welcomed;
  }, 60_000);

  afterAll(async () => {
    await agent.stop();
    await hub.close();
    await fake.close();
    await registry.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it("runs the seed pipeline's task on the repository and digest its registry-image get reported", async () => {
    const yaml = `${ubuntu()}jobs:
- name: job
  plan:
  - get: ubuntu
  - task: use-it
    image: ubuntu
    config: {platform: linux, run: {path: echo, args: ["Hello, world!"]}}
`;
    await setPipeline(hub, 'seed', yaml);
    await checked('seed', 'ubuntu');
    const run = await build('seed', yaml);
    expect(run.error).toBeUndefined();
    expect(run.status).toBe('succeeded');
    expect(run.log).toContain('Hello, world!\n');
    expect(run.log).not.toContain(PASSWORD);
    const got = run.events.find((e) => e.event === 'finish-get')?.data.version as Record<string, string>;
    expect(got.digest).toBe(image.digest);

    const pod = podOf('seed', 'use-it');
    const name = pod.metadata?.name ?? '';
    expect(pod.spec?.containers.find((c) => c.name === 'step')?.image).toBe(
      `${registry.host}/ubuntu@${image.digest}`,
    );
    // The resource's credentials reach the kubelet as the step's own pull Secret (the fake pulled with it).
    expect(pod.spec?.imagePullSecrets).toEqual([{ name: `${name}-step` }]);
    expect(
      fake
        .events(NS)
        .some((e) => String(e.message).includes(`Successfully pulled image "${registry.host}/ubuntu@`)),
    ).toBe(true);
  }, 120_000);

  it('resolves an image_resource tag to its digest and runs that; a digest the registry lacks fails the pull', async () => {
    const source = `{ repository: ${registry.host}/ubuntu, tag: latest, username: ci, password: ${PASSWORD} }`;
    const ok = await build(
      'tagged',
      `jobs:
- name: job
  plan:
  - task: tagged
    config:
      platform: linux
      image_resource: { type: registry-image, source: ${source} }
      run: { path: echo, args: [tagged] }
`,
    );
    expect(ok.error).toBeUndefined();
    expect(ok.status).toBe('succeeded');
    expect(podOf('tagged', 'tagged').spec?.containers[0]?.image).toBe(
      `${registry.host}/ubuntu@${image.digest}`,
    );

    const missing = `sha256:${'0'.repeat(64)}`;
    const bad = await build(
      'pinned',
      `jobs:
- name: job
  plan:
  - task: pinned
    config:
      platform: linux
      image_resource: { type: registry-image, source: ${source}, version: { digest: '${missing}' } }
      run: { path: echo, args: [never] }
`,
    );
    expect(bad.status).toBe('errored');
    expect(bad.error).toContain(`image pull failed: ${registry.host}/ubuntu@${missing}`);
    expect(bad.error).toContain('not found');
  }, 120_000);

  it("pushes an image a task built to the pool's registry and runs it by digest", async () => {
    const yaml = `${ubuntu()}jobs:
- name: job
  plan:
  - get: ubuntu-oci
    resource: ubuntu
    params: { format: oci }
  - task: build
    config:
      platform: linux
      inputs: [{ name: ubuntu-oci }]
      outputs: [{ name: built }]
      run: { path: sh, args: [-ec, 'cp ubuntu-oci/image.tar built/image.tar; echo built'] }
  - task: run-built
    image: built
    config: {platform: linux, run: {path: echo, args: [ran the built image]}}
`;
    await setPipeline(hub, 'built', yaml);
    await checked('built', 'ubuntu');
    const run = await build('built', yaml);
    expect(run.error).toBeUndefined();
    expect(run.status).toBe('succeeded');
    expect(run.log).toContain('built\nran the built image\n');

    const pod = podOf('built', 'run-built');
    const ref = pod.spec?.containers.find((c) => c.name === 'step')?.image ?? '';
    expect(ref).toMatch(new RegExp(`^${registry.host}/outpost/built@sha256:[0-9a-f]{64}$`));
    // The pool's credentials become the pod's pull Secret; the fake pulled the pushed digest with it.
    expect(pod.spec?.imagePullSecrets).toEqual([{ name: `${pod.metadata?.name}-step` }]);
    expect(
      fake.events(NS).some((e) => String(e.message).includes(`Successfully pulled image "${ref}"`)),
    ).toBe(true);
  }, 120_000);

  it('refuses an image a task built on a pool without a registry, and a rootfs-only image anywhere', async () => {
    const built = (tags: string, script: string) => `jobs:
- name: job
  plan:
  - task: build
    tags: [${tags}]
    config:
      platform: linux
      outputs: [{ name: built }]
      run: { path: sh, args: [-ec, '${script}'] }
  - task: run-built
    tags: [${tags}]
    image: built
    config: {platform: linux, run: {path: echo, args: [must not run]}}
`;
    const noRegistry = await build('noregistry', built('noregistry', 'echo x > built/image.tar'));
    expect(noRegistry.status).toBe('errored');
    expect(noRegistry.error).toBe(
      'the task\'s image is a build artifact (an image a step built), and pool "noregistry" has no registry to push it to (kubernetes.registry in the agent config): its pods run only images from a registry',
    );
    expect(noRegistry.log).not.toContain('must not run');

    const rootfs = await build(
      'rootfs',
      built('', 'mkdir -p built/rootfs/etc; echo hi > built/rootfs/etc/motd'),
    );
    expect(rootfs.status).toBe('errored');
    expect(rootfs.error).toContain(
      "the task's image artifact holds only a root filesystem (rootfs/), which a Kubernetes pod cannot run",
    );
    expect(
      fake.createdPods(NS).filter((p) => p.metadata.labels?.['outpost.dev/pipeline'] === 'rootfs'),
    ).toHaveLength(1);
  }, 120_000);
});
