// `outpost execute --tag`, `--privileged` and `--image` as a user runs them: a real CLI process against
// a real hub and an agent with an untagged and a tagged process pool. A one-off build is routed like
// any step (a tag no pool has leaves it waiting, and it says why), a process pool says it does not
// apply `privileged`, and `--image` makes the `-j` job's input of that name the task's image, as fly.

import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildSummary } from '../../hub/api/types.js';
import type { Sandbox } from '../../cli/test/fake-hub.js';
import { startCliFixture, type CliFixture } from '../support/cli-fixture.js';
import { spawnCli, type CliProcess } from '../support/cli-process.js';

let fixture: CliFixture;
let cli: Sandbox;
let work: string;

const ECHO_TASK = "platform: linux\nrun: { path: sh, args: ['-c', 'echo ran'] }\n";

function outpost(args: string[]): CliProcess {
  return spawnCli(args, { cwd: work, env: cli.env as Record<string, string> });
}

async function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = outpost(args);
  const code = await p.exited;
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

async function taskFile(name: string, text: string): Promise<string> {
  await writeFile(path.join(work, name), text);
  return name;
}

beforeAll(async () => {
  fixture = await startCliFixture({
    pools:
      '  - name: plain\n    platform: linux\n    capacity: 4\n' +
      '  - name: gpus\n    platform: linux\n    capacity: 4\n    tags: [gpu]',
  });
  cli = fixture.cli;
  expect(fixture.login.code).toBe(0);
  work = path.join(cli.dir, 'work');
  await mkdir(work, { recursive: true });
  await taskFile('echo.yml', ECHO_TASK);
}, 60_000);

afterAll(() => fixture.close());

describe('outpost execute --tag', () => {
  it('runs on a pool with the tag, and untagged on an untagged pool', async () => {
    const tagged = await run(['execute', '-c', 'echo.yml', '--tag', 'gpu']);
    expect(tagged.stdout).toContain('selected worker: test/agent-1 (pool gpus)\n');
    expect(tagged.stdout).toMatch(/\nran\nsucceeded\n$/);
    expect(tagged.code).toBe(0);
    const untagged = await run(['execute', '-c', 'echo.yml']);
    expect(untagged.stdout).toContain('selected worker: test/agent-1 (pool plain)\n');
    expect(untagged.code).toBe(0);
  });

  it('waits, saying why, when no pool has the tag; Ctrl-C aborts it', async () => {
    const p = outpost(['execute', '-c', 'echo.yml', '--tag', 'tpu']);
    await p.waitFor('waiting for a worker: ');
    const id = Number(/executing build (\d+)/.exec(p.stdout())?.[1]);
    const waiting = await fixture.hub.api<BuildSummary>('GET', `/builds/${id}`);
    expect(waiting.body.status).toBe('started');
    expect(p.stdout()).toMatch(/waiting for a worker: .*tpu/);
    p.child.kill('SIGINT');
    expect(await p.exited).toBe(3);
    expect(p.stdout()).toMatch(/aborted\n$/);
    expect((await fixture.hub.api<BuildSummary>('GET', `/builds/${id}`)).body.status).toBe('aborted');
  });
});

describe('outpost execute --privileged', () => {
  it('marks the task privileged; a process pool says it does not apply it, and runs the task', async () => {
    const result = await run(['execute', '-c', 'echo.yml', '--privileged']);
    expect(result.stdout).toContain(
      'outpost: pool "plain" runs steps as host processes; not applied: privileged\n',
    );
    expect(result.stdout).toMatch(/\nran\nsucceeded\n$/);
    expect(result.code).toBe(0);
    const plain = await run(['execute', '-c', 'echo.yml']);
    expect(plain.stdout).not.toContain('not applied');
  });
});

describe('outpost execute --image', () => {
  it("uses the -j job's input of that name as the task's image, as fly", async () => {
    const pipeline = `resources:
- name: tools
  type: mock
  source: { mirror_self: true, initial_version: tools-v3 }
jobs:
- name: build
  plan: [{ get: image, resource: tools }]
`;
    const file = path.join(work, 'img.yml');
    await writeFile(file, pipeline);
    expect((await cli.run(['set-pipeline', '-p', 'img', '-c', file, '-n'])).code).toBe(0);
    expect((await cli.run(['unpause-pipeline', '-p', 'img'])).code).toBe(0);
    expect((await cli.run(['trigger-job', '-j', 'img/build', '-w'])).code).toBe(0);
    await taskFile(
      'env.yml',
      "platform: linux\nrun: { path: sh, args: ['-c', 'echo \"image $MIRRORED_VERSION\"'] }\n",
    );
    // The image's metadata sets the task's env (a mock image mirrors its version there).
    const result = await run(['execute', '-c', 'env.yml', '-j', 'img/build', '--image', 'image']);
    expect(result.stdout).toContain('\nimage tools-v3\n');
    expect(result.code).toBe(0);
    // The resource's name works as well.
    const byResource = await run(['execute', '-c', 'env.yml', '-j', 'img/build', '--image', 'tools']);
    expect(byResource.stdout).toContain('\nimage tools-v3\n');

    const unknown = await run(['execute', '-c', 'env.yml', '-j', 'img/build', '--image', 'nope']);
    expect(unknown.stderr).toBe('error: image resource nope not found among the inputs of img/build\n');
    expect(unknown.code).toBe(1);
    const withoutJob = await run(['execute', '-c', 'env.yml', '--image', 'tools']);
    expect(withoutJob.stderr).toBe(
      'error: --image needs --inputs-from (-j): it names an input of that job\n',
    );
    expect(withoutJob.code).toBe(1);
  });
});
