// Resource types that run from an image, end to end on a kubernetes pool: the real hub and agent over
// gRPC, the agent's pool talking to the fake API server (test/support/fake-k8s) with exactly the
// documented RBAC rules. The type's image is a fake `git`-like resource whose /opt/resource/check, in
// and out are shell scripts (FakeKubeOptions.images[...].files); the pipeline declares it as a
// `registry-image` resource type, as a real pipeline would.
// client-node's models are classes, but its API takes plain JSON objects (it serializes them).
/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildSummary, ResourceVersionSummary } from '../../hub/api/types.js';
import { DOCUMENTED_RBAC } from '../../agent/executors/kubernetes/rbac.js';
import { startFakeKube, type FakeKube } from '../support/fake-k8s/index.js';
import { skipForEnvironment } from '../support/require-all.js';
import {
  finalStatus,
  logText,
  openEventStream,
  readBuildEvents,
  setPipeline,
  startTestAgent,
  startTestHub,
  triggerJob,
  type TestHub,
} from '../support/harness.js';
import { eventually } from '../support/eventually.js';

const NS = 'ci';
const CHROOT_NEEDED =
  'the fake cluster has no chroot isolation (needs root and `unshare --mount`), so no image files at /opt/resource';
const IMAGE = 'registry.example/gitlike-resource';
// The hub's core image for `registry-image` (DEFAULT_HUB_OPTIONS.coreResourceImages): checking the
// resource type runs it, and the digest it reports is the image the resource's steps run from.
const CORE_REGISTRY_IMAGE = 'concourse/registry-image-resource';
const DIGEST = `sha256:${'ab'.repeat(32)}`;
const REGISTRY_CHECK = `#!/bin/sh
req=$(cat)
echo "registry-image check: $req" >&2
printf '[{"digest":"${DIGEST}"}]'
`;

// The resource's scripts. Versions are {"ref": ...}; the request is compact JSON on stdin, parsed with
// sed (the fake's containers have the host's tools, not jq). stderr is the step's log.
const CHECK = `#!/bin/sh
set -e
req=$(cat)
echo "check request: $req" >&2
from=$(printf '%s' "$req" | sed -n 's/.*"version":{"ref":"\\([^"]*\\)"}.*/\\1/p')
if [ -n "$from" ]; then printf '[{"ref":"%s"},{"ref":"%s-next"}]' "$from" "$from"; else printf '[{"ref":"aaa"},{"ref":"bbb"}]'; fi
`;
const IN = `#!/bin/sh
set -e
dest=$1
req=$(cat)
case "$req" in *'"ref":"pushed-'*) ;; *'"slow":"yes"'*) echo "slow start" >&2; sleep 3 ;; esac
ref=$(printf '%s' "$req" | sed -n 's/.*"version":{"ref":"\\([^"]*\\)"}.*/\\1/p')
echo "content at $ref" > "$dest/README"
echo "fetched $ref into $dest" >&2
printf '{"version":{"ref":"%s"},"metadata":[{"name":"author","value":"fake"}]}' "$ref"
`;
const OUT = `#!/bin/sh
set -e
src=$1
req=$(cat)
file=$(printf '%s' "$req" | sed -n 's/.*"params":{"file":"\\([^"]*\\)"}.*/\\1/p')
echo "put in $src sees: $(cd "$src" && ls | tr '\\n' ' ')" >&2
content=$(cat "$src/$file")
printf '{"version":{"ref":"pushed-%s"}}' "$(printf '%s' "$content" | tr ' ' '-')"
`;

let fake: FakeKube;
let hub: TestHub;
let agent: Awaited<ReturnType<typeof startTestAgent>>;
let dir: string;
let kubeconfig: string;
const seenPods: V1Pod[] = [];
let podTimer: NodeJS.Timeout;

function pools(): string {
  return `  - name: linux
    platform: linux
    executor: kubernetes
    capacity: 4
    # registry-image from its image (the fake core image below), not inside the agent.
    builtin_types: [git, mock, semver, time]
    kubernetes:
      namespace: ${NS}
      kubeconfig: ${kubeconfig}
      resources: { defaults: { cpu: 100m, memory: 64Mi } }
`;
}

function pipeline(source: string): string {
  return `resource_types:
- name: gitlike
  type: registry-image
  source: { repository: ${IMAGE} }
resources:
- name: repo
  type: gitlike
  check_every: never
  source: ${source}
jobs:
- name: job
  plan:
  - get: repo
  - task: build
    config:
      platform: linux
      inputs: [{ name: repo }]
      outputs: [{ name: out }]
      run:
        path: sh
        args: ['-c', 'ls -A repo; cat repo/README; cat repo/README > out/built']
  - put: repo
    params: { file: out/built }
`;
}

async function check(pipelineName: string, from?: Record<string, string>): Promise<BuildSummary> {
  const res = await hub.api<BuildSummary>(
    'POST',
    `/teams/main/pipelines/${pipelineName}/resources/repo/check`,
    from ? { from } : {},
  );
  expect(res.status).toBe(201);
  return eventually(`check build ${res.body.id}`, async () => {
    const b = await hub.api<BuildSummary>('GET', `/builds/${res.body.id}`);
    return ['pending', 'started'].includes(b.body.status) ? undefined : b.body;
  });
}

async function versions(pipelineName: string): Promise<ResourceVersionSummary[]> {
  const res = await hub.api<ResourceVersionSummary[]>(
    'GET',
    `/teams/main/pipelines/${pipelineName}/resources/repo/versions`,
  );
  return res.body;
}

const refs = (vs: ResourceVersionSummary[]) => vs.map((v) => v.version.ref);

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-k8s-resources-'));
  fake = await startFakeKube({
    namespaces: [NS],
    nodes: [{ name: 'linux-1' }],
    rbac: DOCUMENTED_RBAC.map((r) => ({
      verbs: [...r.verbs],
      resources: [...r.resources],
      namespaces: [NS],
    })),
    images: {
      [CORE_REGISTRY_IMAGE]: { files: { '/opt/resource/check': REGISTRY_CHECK } },
      [IMAGE]: {
        files: { '/opt/resource/check': CHECK, '/opt/resource/in': IN, '/opt/resource/out': OUT },
      },
    },
  });
  kubeconfig = path.join(dir, 'kubeconfig');
  await writeFile(kubeconfig, fake.kubeconfigYaml());
  hub = await startTestHub();
  agent = await startTestAgent(hub, { name: 'k8s-agent', pools: pools() });
  await agent.welcomed;
  podTimer = setInterval(() => {
    for (const p of fake.pods(NS) as V1Pod[])
      if (!seenPods.some((s) => s.metadata?.name === p.metadata?.name)) seenPods.push(p);
  }, 20);
}, 60_000);

afterAll(async () => {
  clearInterval(podTimer);
  await agent.stop();
  await hub.close();
  await fake.close();
  await rm(dir, { recursive: true, force: true });
});

describe('resource types from an image, on a kubernetes pool', () => {
  it('checks, gets and puts through the type image: stdin request, stderr log, response, files', async (ctx) => {
    // The scripts live at /opt/resource only with chroot isolation (see fake-k8s/README.md).
    if (fake.isolation !== 'chroot') skipForEnvironment(ctx, CHROOT_NEEDED);
    await setPipeline(hub, 'gitlike', pipeline('{ uri: "https://git.example/app.git" }'));

    // check: the type is checked first (the core registry-image image gives its digest), then the
    // resource: the request {source, version: null} reaches stdin, stderr is the check build's log,
    // and the response's versions become the resource's history.
    const checked = await check('gitlike');
    const checkEvents = await readBuildEvents(hub, checked.id);
    expect(checked.status, JSON.stringify(checkEvents)).toBe('succeeded');
    expect(logText(checkEvents)).toBe(
      `registry-image check: {"source":{"repository":"${IMAGE}"},"version":null}\n` +
        'check request: {"source":{"uri":"https://git.example/app.git"},"version":null}\n',
    );
    expect(refs(await versions('gitlike'))).toEqual(['bbb', 'aaa']);
    // A check from a given version sends it in the request.
    expect((await check('gitlike', { ref: 'bbb' })).status).toBe('succeeded');
    expect(refs(await versions('gitlike'))).toEqual(['bbb-next', 'bbb', 'aaa']);

    // get -> task -> put in one build. The manual trigger checks the resource first (from bbb-next),
    // so the get takes the version that check found.
    const build = await triggerJob(hub, 'gitlike', 'job');
    const events = await readBuildEvents(hub, build);
    expect(events.find((e) => e.event === 'error')?.data.message).toBeUndefined();
    expect(finalStatus(events)).toBe('succeeded');
    expect(logText(events)).toBe(
      [
        // get: the latest version reached `in`; its stderr is the log.
        'fetched bbb-next-next into /workspace/repo',
        // the task got exactly the get's destination (no request or response files).
        'README',
        'content at bbb-next-next',
        // put: the artifacts its params name are in its working directory (inputs default to detect,
        // as Concourse's: `file: out/built` names `out` only).
        'put in /workspace sees: out ',
        // then, as in Concourse, the implicit get of the version it produced.
        'fetched pushed-content-at-bbb-next-next into /workspace/repo',
        '',
      ].join('\n'),
    );
    // The get's response (version and metadata) came back in Finished.resource_result_json.
    const fetched = events.find((e) => e.event === 'finish-get');
    expect(fetched?.data.version).toEqual({ ref: 'bbb-next-next' });
    expect(fetched?.data.metadata).toEqual([{ name: 'author', value: 'fake' }]);
    const put = events.find((e) => e.event === 'finish-put');
    expect(put?.data.version).toEqual({ ref: 'pushed-content-at-bbb-next-next' });
    expect(refs(await versions('gitlike'))).toContain('pushed-content-at-bbb-next-next');

    // Each step's pod: a check of the type ran the core image (every check and trigger checks the type
    // first), the resource's steps ran the type's image at the digest that check found.
    const resourcePods = seenPods.filter((p) => p.metadata?.annotations?.['outpost.dev/resource']);
    const ran = (image: string) =>
      resourcePods
        .filter((p) => p.spec?.containers[0]?.image === image)
        .map((p) => {
          const held = JSON.parse(p.metadata?.annotations?.['outpost.dev/resource'] ?? '{}') as {
            kind: string;
            type: string;
          };
          return `${held.kind} ${held.type}`;
        });
    const typeChecks = ran(`${CORE_REGISTRY_IMAGE}:latest`);
    expect(typeChecks.length).toBeGreaterThan(0);
    expect(new Set(typeChecks)).toEqual(new Set(['check registry-image']));
    expect(ran(`${IMAGE}@${DIGEST}`).filter((k) => !k.startsWith('check'))).toEqual([
      'get registry-image',
      'put registry-image',
      'get registry-image',
    ]);
    expect(resourcePods.length).toBe(typeChecks.length + ran(`${IMAGE}@${DIGEST}`).length);
    // The request (the resource's source) is never kept on the pod.
    for (const p of resourcePods) expect(JSON.stringify(p)).not.toContain('git.example');
    await eventually('pods deleted', () => Promise.resolve(fake.pods(NS).length === 0 ? true : undefined));
  }, 60_000);

  it('a get reattached after an agent restart reports its response and uploads only its destination', async (ctx) => {
    if (fake.isolation !== 'chroot') skipForEnvironment(ctx, CHROOT_NEEDED);
    await setPipeline(hub, 'slow', pipeline('{ uri: "https://git.example/slow.git", slow: "yes" }'));
    expect((await check('slow')).status).toBe('succeeded');
    const build = await triggerJob(hub, 'slow', 'job');
    const stream = await openEventStream(hub, build);
    await stream.until('slow start');
    await stream.cancel();
    // The get's pod keeps running while no agent is there; a new agent process takes it back.
    await agent.stop();
    agent = await startTestAgent(hub, { name: 'k8s-agent', pools: pools() });
    await agent.welcomed;
    const events = await readBuildEvents(hub, build);
    expect(events.find((e) => e.event === 'error')?.data.message).toBeUndefined();
    expect(finalStatus(events)).toBe('succeeded');
    // The manual trigger checked from bbb first, so the get took bbb-next. Every line once; the task saw only README in the get's output (not the response dir).
    expect(logText(events)).toBe(
      [
        'slow start',
        'fetched bbb-next into /workspace/repo',
        'README',
        'content at bbb-next',
        'put in /workspace sees: out ',
        'fetched pushed-content-at-bbb-next into /workspace/repo',
        '',
      ].join('\n'),
    );
    const fetched = events.find((e) => e.event === 'finish-get');
    expect(fetched?.data.version).toEqual({ ref: 'bbb-next' });
    const reattached = events.filter((e) => e.event === 'finish-get').length;
    expect(reattached).toBe(2);
    expect(fetched?.data.metadata).toEqual([{ name: 'author', value: 'fake' }]);
    expect(refs(await versions('slow'))).toContain('pushed-content-at-bbb-next');
  }, 60_000);
});
