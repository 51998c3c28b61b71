// Instanced pipelines through the real CLI against a real hub and agent (issue 17, item 3): set with
// `-i`, listed and addressed as fly does (`name/key:value`), set by a set_pipeline step's
// instance_vars, and addressed in the API with Concourse's `vars` query.

import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineSummary } from '../../hub/api/types.js';
import { startCliFixture, type CliFixture } from '../../test/support/cli-fixture.js';
import type { Sandbox } from './fake-hub.js';

let fixture: CliFixture;
let cli: Sandbox;

beforeAll(async () => {
  fixture = await startCliFixture();
  cli = fixture.cli;
  expect(fixture.login.code).toBe(0);
});

afterAll(() => fixture.close());

/** A job that prints its instance's `branch` var. */
const branchPipeline = `
jobs:
- name: show
  plan:
  - task: print
    config:
      platform: linux
      run: { path: sh, args: ['-c', 'echo "on ((branch))"'] }
`;

async function configFile(name: string, yaml: string): Promise<string> {
  const file = path.join(cli.dir, `${name}.yml`);
  await writeFile(file, yaml);
  return file;
}

/** The `pipelines` table as rows of cells (piped: without its header, as fly). */
async function pipelineRows(): Promise<string[][]> {
  const listed = await cli.run(['pipelines']);
  expect(listed.code, listed.stderr).toBe(0);
  return listed.stdout
    .trimEnd()
    .split('\n')
    .map((l) => l.split(/\s{2,}/));
}

describe('instanced pipelines', () => {
  it('sets instances with -i, lists them as name/key:value, and addresses each one', async () => {
    const file = await configFile('branches', branchPipeline);
    const first = await cli.run(['set-pipeline', '-p', 'br', '-c', file, '-i', 'branch=main', '-n']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('pipeline instance vars:\n  branch: main\n');
    expect(first.stdout).toContain('unpause-pipeline -p br/branch:main');
    // fly's `key:value` form and a nested key work too.
    const second = await cli.run([
      'sp',
      '-p',
      'br',
      '-c',
      file,
      '-i',
      'branch:dev',
      '-i',
      'os.name=linux',
      '-n',
    ]);
    expect(second.code, second.stderr).toBe(0);

    const rows = await pipelineRows();
    expect(rows.map((r) => [r[1], r[2]])).toEqual([
      ['br/branch:main', 'yes'],
      ['br/branch:dev,os.name:linux', 'yes'],
    ]);
    const json = JSON.parse((await cli.run(['pipelines', '--json'])).stdout) as PipelineSummary[];
    expect(json.map((p) => [p.name, p.instance_vars])).toEqual([
      ['br', { branch: 'main' }],
      ['br', { branch: 'dev', os: { name: 'linux' } }],
    ]);

    // Each instance is its own pipeline: unpause and trigger one, its config has its own vars.
    expect((await cli.run(['unpause-pipeline', '-p', 'br/branch:main'])).stdout).toBe(
      "unpaused 'br/branch:main'\n",
    );
    const run = await cli.run(['trigger-job', '-j', 'br/branch:main/show', '-w']);
    expect(run.stdout).toMatch(/^started br\/branch:main\/show #1\n/);
    expect(run.stdout).toContain('on main\n');
    expect(run.code).toBe(0);
    const jobs = await cli.run(['jobs', '-p', 'br/branch:dev,os.name:linux']);
    expect(jobs.code, jobs.stderr).toBe(0);
    expect(jobs.stdout).toMatch(/^show\s+no\s+n\/a/m);
    expect((await pipelineRows()).map((r) => [r[1], r[2]])).toEqual([
      ['br/branch:main', 'no'],
      ['br/branch:dev,os.name:linux', 'yes'],
    ]);
    expect((await cli.run(['pause-pipeline', '-p', 'br/branch:main'])).code).toBe(0);
    expect((await pipelineRows())[0]?.[2]).toBe('yes');

    // An instance that does not exist, and a malformed one, are named in the error.
    const missing = await cli.run(['trigger-job', '-j', 'br/branch:nope/show']);
    expect(missing.stderr).toBe('error: pipeline "br/branch:nope" not found\n');
    expect(missing.code).toBe(1);
    const malformed = await cli.run(['pause-pipeline', '-p', 'br/branch']);
    expect(malformed.stderr).toMatch(
      /^error: invalid pipeline 'br\/branch': instance vars should be formatted/,
    );
    expect(malformed.code).toBe(1);

    // destroy-pipeline takes one instance; the group's other instance stays.
    const destroyed = await cli.run(['destroy-pipeline', '-p', 'br/branch:dev,os.name:linux', '-n']);
    expect(destroyed.stdout).toContain('`br/branch:dev,os.name:linux` deleted\n');
    expect((await pipelineRows()).map((r) => r[1])).toEqual(['br/branch:main']);
  });

  it('answers the API with the vars query as Concourse does', async () => {
    const file = await configFile('api', branchPipeline);
    for (const branch of ['a', 'b'])
      expect((await cli.run(['sp', '-p', 'api', '-c', file, '-i', `branch=${branch}`, '-n'])).code).toBe(0);
    const { hub } = fixture;
    const json = encodeURIComponent(JSON.stringify({ branch: 'b' }));
    const whole = await hub.api<{ source: string }>('GET', `/teams/main/pipelines/api/config?vars=${json}`);
    expect(whole.status).toBe(200);
    expect(whole.body.source).toContain('on b');
    const leaf = await hub.api<{ source: string }>(
      'GET',
      `/teams/main/pipelines/api/config?vars.branch=%22a%22`,
    );
    expect(leaf.body.source).toContain('on a');
    // No plain pipeline `api` exists, only its instances.
    expect((await hub.api('GET', '/teams/main/pipelines/api/config')).status).toBe(404);
    const bad = await hub.api<{ error: { message: string } }>(
      'GET',
      '/teams/main/pipelines/api/jobs?vars=%7Bbranch',
    );
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toBe('query "vars" must be JSON, like {"branch":"main"} or "main"');
    const slash = await hub.api('GET', `/teams/main/pipelines/${encodeURIComponent('api/x')}/jobs`);
    expect(slash.status).toBe(400);
    const listed = await hub.api<PipelineSummary[]>('GET', '/teams/main/pipelines');
    expect(listed.body.filter((p) => p.name === 'api').map((p) => p.instance_vars)).toEqual([
      { branch: 'a' },
      { branch: 'b' },
    ]);
    // A build of an instance names its instance vars.
    expect((await cli.run(['up', '-p', 'api/branch:b'])).code).toBe(0);
    const build = await hub.api<{ pipeline: string; pipeline_instance_vars: unknown }>(
      'POST',
      `/teams/main/pipelines/api/jobs/show/builds?vars.branch=%22b%22`,
    );
    expect(build.body).toMatchObject({ pipeline: 'api', pipeline_instance_vars: { branch: 'b' } });
  });

  it('sets an instance from a set_pipeline step with instance_vars, whose vars fill its config', async () => {
    // `<<greetings>>` becomes the var when the task writes the file (tr), so the parent's own config
    // has no var of that name to resolve.
    const child = `
jobs:
- name: greet
  plan:
  - task: say
    config:
      platform: linux
      run:
        path: echo
        args:
        - <<greetings>>
`;
    const parent = `
jobs:
- name: sp
  plan:
  - task: write
    config:
      platform: linux
      outputs: [{ name: out }]
      run: { path: sh, args: ['-c', ${JSON.stringify(`tr '<>' '()' > out/child.yml <<'EOF'\n${child}\nEOF`)}] }
  - set_pipeline: kid
    file: out/child.yml
    instance_vars: { greetings: hi-there }
`;
    const file = await configFile('parent', parent);
    expect((await cli.run(['sp', '-p', 'parent', '-c', file, '-n'])).code).toBe(0);
    expect((await cli.run(['up', '-p', 'parent'])).code).toBe(0);
    const set = await cli.run(['trigger-job', '-j', 'parent/sp', '-w']);
    expect(set.stdout).toContain('setting pipeline: kid/greetings:hi-there\n');
    expect(set.code, set.stdout).toBe(0);
    const greet = await cli.run(['trigger-job', '-j', 'kid/greetings:hi-there/greet', '-w']);
    expect(greet.stdout).toContain('hi-there\n');
    expect(greet.code).toBe(0);
    // The step set an instance, not a plain pipeline of that name.
    expect((await cli.run(['get-pipeline', '-p', 'kid'])).stderr).toBe('error: pipeline not found\n');
  });

  it('orders the instances within their group with order-instanced-pipelines, as fly does', async () => {
    const file = await configFile('ordered', branchPipeline);
    for (const branch of ['a', 'b', 'c'])
      expect((await cli.run(['sp', '-p', 'ord', '-c', file, '-i', `branch=${branch}`, '-n'])).code).toBe(0);
    expect((await cli.run(['sp', '-p', 'after-ord', '-c', file, '-v', 'branch=x', '-n'])).code).toBe(0);
    const names = async () => (await pipelineRows()).map((r) => r[1]).filter((n) => /ord\b/.test(n ?? ''));
    expect(await names()).toEqual(['ord/branch:a', 'ord/branch:b', 'ord/branch:c', 'after-ord']);

    const ordered = await cli.run([
      'order-instanced-pipelines',
      '-g',
      'ord',
      '-p',
      'branch:c',
      '-p',
      'branch:a',
    ]);
    expect(ordered).toEqual({
      code: 0,
      stdout: 'ordered instanced pipelines\n  - branch:c\n  - branch:a\n',
      stderr: '',
    });
    // The named instances first, the others after them; the group keeps its place among the pipelines.
    expect(await names()).toEqual(['ord/branch:c', 'ord/branch:a', 'ord/branch:b', 'after-ord']);
    expect((await cli.run(['oip', '-g', 'ord', '-p', 'branch:b'])).code).toBe(0);
    expect(await names()).toEqual(['ord/branch:b', 'ord/branch:a', 'ord/branch:c', 'after-ord']);

    expect(await cli.run(['oip', '-g', 'ord', '-p', 'branch:z'])).toEqual({
      code: 1,
      stdout: '',
      stderr: 'error: failed to order instanced pipelines: pipeline "ord/branch:z" not found\n',
    });
    expect(await cli.run(['oip', '-g', 'ord', '-p', 'branch'])).toEqual({
      code: 1,
      stdout: '',
      stderr:
        "error: invalid --pipeline 'branch': instance vars should be formatted as <key1:value1>(,<key2:value2>)\n",
    });
    expect(await names()).toEqual(['ord/branch:b', 'ord/branch:a', 'ord/branch:c', 'after-ord']);
  });

  it("runs execute -j group/key:value/job on that instance's job inputs", async () => {
    const pipeline = `resources:
- name: repo
  type: mock
  source: { initial_version: ((branch))-v1 }
jobs:
- name: unit
  plan: [{ get: repo }]
`;
    const file = await configFile('exec', pipeline);
    for (const branch of ['main', 'dev']) {
      expect((await cli.run(['sp', '-p', 'exe', '-c', file, '-i', `branch=${branch}`, '-n'])).code).toBe(0);
      expect((await cli.run(['up', '-p', `exe/branch:${branch}`])).code).toBe(0);
    }
    expect((await cli.run(['trigger-job', '-j', 'exe/branch:dev/unit', '-w'])).code).toBe(0);
    const task = await configFile(
      'exec-task',
      'platform: linux\ninputs: [{ name: repo }]\nrun: { path: cat, args: [repo/version] }\n',
    );
    const run = await cli.run(['execute', '-c', task, '-j', 'exe/branch:dev/unit']);
    expect(run.stdout).toMatch(/^executing build \d+ at /);
    expect(run.stdout).toContain('\ndev-v1\nsucceeded\n');
    expect(run.code).toBe(0);
    // The other instance's job has no build yet: fly's error, named with the instance.
    const none = await cli.run(['execute', '-c', task, '-j', 'exe/branch:main/unit']);
    expect(none.stderr).toBe('error: exe/branch:main/unit has no build that fetched its inputs yet\n');
    expect(none.code).toBe(1);
    const missing = await cli.run(['execute', '-c', task, '-j', 'exe/branch:nope/unit']);
    expect(missing.stderr).toBe('error: pipeline "exe/branch:nope" not found\n');
    expect(missing.code).toBe(1);
  });
});
