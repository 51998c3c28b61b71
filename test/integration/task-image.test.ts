// A task's `image_resource` of type registry-image on a process pool with `task_images: chroot`, through
// a real hub and agent and a real registry on loopback (Debian's docker-registry): the agent fetches
// the image with the built-in registry-image resource and runs the task chrooted into its rootfs, with
// the image's env, its inputs and outputs where the task expects them, and none of the host's files.

import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
  type TestRegistry,
} from '../support/registry.js';
import { requireAll, requiredMessage, skipForEnvironment } from '../support/require-all.js';

const unavailable = registryUnavailable();
if (unavailable && requireAll) throw new Error(requiredMessage(unavailable));
if (unavailable) console.log(`skipped: ${unavailable}`);
const NOT_ROOT = 'chroot needs root (the agent runs tasks with an image chrooted only as root)';

let hub: TestHub;
let agent: Awaited<ReturnType<typeof startTestAgent>>;
let root: string;
let registry: TestRegistry;

/** The host's sh and the libraries it loads, as an image layer: the smallest image a task can run in. */
function shellLayer(): Record<string, { copyOf: string }> {
  const sh = execFileSync('sh', ['-c', 'readlink -f "$(command -v sh)"'], { encoding: 'utf8' }).trim();
  const libs = [...execFileSync('ldd', [sh], { encoding: 'utf8' }).matchAll(/(\/\S+)/g)].map(
    (m) => m[1] ?? '',
  );
  const layer: Record<string, { copyOf: string }> = { 'bin/sh': { copyOf: sh } };
  for (const lib of libs) layer[lib.slice(1)] = { copyOf: lib };
  return layer;
}

describe.skipIf(unavailable !== undefined)('task images on a process pool', () => {
  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'outpost-task-image-'));
    registry = await startRegistry(path.join(root, 'registry'));
    const image = await buildImage(
      path.join(root, 'build'),
      [shellLayer(), { 'etc/motd': 'inside the image\n' }],
      {
        Env: ['PATH=/bin', 'GREETING=from-the-image'],
      },
    );
    await pushImage(registry, 'tools', ['v1'], image);
    hub = await startTestHub();
    agent = await startTestAgent(hub, {
      pools: '  - name: local\n    platform: linux\n    capacity: 4\n    task_images: chroot',
    });
    await agent.welcomed;
  }, 60_000);

  afterAll(async () => {
    await agent.stop();
    await hub.close();
    await registry.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it("fetches the image and runs the task in its rootfs, with the image's env and the step's files", async (ctx) => {
    if (process.getuid?.() !== 0) skipForEnvironment(ctx, NOT_ROOT);
    await setPipeline(
      hub,
      'imaged',
      `jobs:
- name: job
  plan:
  - task: make
    config:
      platform: linux
      outputs: [{ name: in }]
      run: { path: sh, args: [-ec, 'echo from-the-host > in/file'] }
  - task: in-image
    config:
      platform: linux
      image_resource: { type: registry-image, source: { repository: ${registry.host}/tools, tag: v1 } }
      params: { OWN: param }
      inputs: [{ name: in }]
      outputs: [{ name: out }]
      run:
        path: sh
        args:
        - -ec
        - |
          read motd < /etc/motd; echo "motd: $motd"
          echo "env: $GREETING $OWN"
          read x < in/file; echo "input: $x"
          if [ -e /usr/bin/node ] || [ -e /usr/bin/git ]; then echo "host files: visible"; else echo "host files: hidden"; fi
          echo built-in-image > out/file
  - task: after
    config:
      platform: linux
      inputs: [{ name: out }]
      run: { path: sh, args: [-ec, 'cat out/file'] }
`,
    );
    const events = await readBuildEvents(hub, await triggerJob(hub, 'imaged', 'job'));
    const log = logText(events);
    expect(finalStatus(events), log).toBe('succeeded');
    expect(log).toBe(
      [
        'motd: inside the image',
        'env: from-the-image param',
        'input: from-the-host',
        'host files: hidden',
        'built-in-image',
        '',
      ].join('\n'),
    );
  }, 60_000);

  it('an image the registry does not have errors the step, naming it', async (ctx) => {
    if (process.getuid?.() !== 0) skipForEnvironment(ctx, NOT_ROOT);
    await setPipeline(
      hub,
      'missing',
      `jobs:
- name: job
  plan:
  - task: t
    config:
      platform: linux
      image_resource: { type: registry-image, source: { repository: ${registry.host}/nothing, tag: v9 } }
      run: { path: sh, args: [-c, 'echo never'] }
`,
    );
    const events = await readBuildEvents(hub, await triggerJob(hub, 'missing', 'job'));
    expect(finalStatus(events)).toBe('errored');
    expect(events.find((e) => e.event === 'error')?.data.message).toBe(
      `image_resource ${registry.host}/nothing: the registry has no tag "v9" of ${registry.host}/nothing`,
    );
  }, 60_000);
});
