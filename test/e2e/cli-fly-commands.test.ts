// fly's job, build, pipeline-lifecycle and cache commands through the real CLI against a real hub and
// agent: what a user types, what they see, and the exit status (issue 17, items 1 and 2).

import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from '../../cli/test/fake-hub.js';
import { startCliFixture, type CliFixture } from '../support/cli-fixture.js';

let fixture: CliFixture;
let cli: Sandbox;

beforeAll(async () => {
  fixture = await startCliFixture();
  cli = fixture.cli;
  expect(fixture.login.code).toBe(0);
});

afterAll(() => fixture.close());

/** Sets (with fly's alias `sp`) and unpauses a pipeline from YAML text. */
async function setPipeline(name: string, yaml: string): Promise<void> {
  const file = path.join(cli.dir, `${name}.yml`);
  await writeFile(file, yaml);
  const set = await cli.run(['sp', '-p', name, '-c', file, '-n']);
  expect(set.code, set.stderr).toBe(0);
  expect((await cli.run(['up', '-p', name])).code).toBe(0);
}

const task = (name: string, script: string, extra = '') => `
  - task: ${name}
    config:
      platform: linux${extra}
      run: { path: sh, args: ['-c', ${JSON.stringify(script)}] }`;

/** A job that gets a mock resource and prints the version it got. */
const versionPipeline = `
resources:
- name: r
  type: mock
  source: { no_initial_version: true }
jobs:
- name: show
  plan:
  - get: r${task('print', 'echo "got $(cat r/version)"', '\n      inputs: [{ name: r }]')}
`;

describe('rerun-build', () => {
  it('reruns build 1 as 1.1 and 1.2 with its version, while the job moved on', async () => {
    await setPipeline('rerun', versionPipeline);
    expect((await cli.run(['cr', '-r', 'rerun/r', '-f', 'version:v1'])).code).toBe(0);
    expect((await cli.run(['tj', '-j', 'rerun/show', '-w'])).stdout).toContain('got v1\n');
    expect((await cli.run(['check-resource', '-r', 'rerun/r', '-f', 'version:v2'])).code).toBe(0);
    expect((await cli.run(['trigger-job', '-j', 'rerun/show', '-w'])).stdout).toContain('got v2\n');

    const first = await cli.run(['rerun-build', '-j', 'rerun/show', '-b', '1', '-w']);
    expect(first.stdout).toMatch(/^started rerun\/show #1\.1\n/);
    expect(first.stdout).toContain('got v1\n');
    expect(first.stdout).toMatch(/succeeded\n$/);
    expect(first.code).toBe(0);
    // A rerun of a rerun is the next rerun of the original build.
    const second = await cli.run(['rb', '-j', 'rerun/show', '-b', '1.1', '-w']);
    expect(second.stdout).toMatch(/^started rerun\/show #1\.2\n/);
    expect(second.stdout).toContain('got v1\n');

    const builds = await cli.run(['builds', '-j', 'rerun/show']);
    // In name order, as fly shows them (piped: rows only).
    expect(
      builds.stdout
        .split('\n')
        .slice(0, -1)
        .map((l) => l.split(/\s{2,}/)[2]),
    ).toEqual(['2', '1.2', '1.1', '1']);
    // The job's latest build is still 2: watch without a name shows it.
    expect((await cli.run(['watch', '-j', 'rerun/show'])).stdout).toContain('got v2\n');
  });

  it('says which build does not exist, and exits 1', async () => {
    await setPipeline('rerun-missing', versionPipeline);
    const r = await cli.run(['rerun-build', '-j', 'rerun-missing/show', '-b', '7']);
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'error: build rerun-missing/show #7 not found\n' });
  });
});

describe('jobs and schedule-job', () => {
  it("lists a pipeline's jobs with their last status, as fly", async () => {
    await setPipeline(
      'listed-jobs',
      `jobs:\n- name: ok\n  plan:${task('t', 'true')}\n- name: never\n  plan:${task('t', 'true')}\n`,
    );
    expect((await cli.run(['pj', '-j', 'listed-jobs/never'])).code).toBe(0);
    expect((await cli.run(['tj', '-j', 'listed-jobs/ok', '-w'])).code).toBe(0);
    const r = await cli.run(['--print-table-headers', 'js', '-p', 'listed-jobs']);
    expect(r).toEqual({
      code: 0,
      stdout:
        'name   paused  status     next\nok     no      succeeded  n/a\nnever  yes     n/a        n/a\n',
      stderr: '',
    });
    const json = JSON.parse((await cli.run(['jobs', '-p', 'listed-jobs', '--json'])).stdout) as unknown[];
    expect(json).toMatchObject([
      { name: 'ok', paused: false },
      { name: 'never', paused: true },
    ]);
    expect(await cli.run(['jobs', '-p', 'nope'])).toEqual({
      code: 1,
      stdout: '',
      stderr: "error: pipeline 'nope' not found\n",
    });
  });

  it('schedules a job, and names an unknown one', async () => {
    expect(await cli.run(['sj', '-j', 'listed-jobs/ok'])).toEqual({
      code: 0,
      stdout: "scheduled 'ok'\n",
      stderr: '',
    });
    expect(await cli.run(['schedule-job', '-j', 'listed-jobs/gone'])).toEqual({
      code: 1,
      stdout: '',
      stderr: 'error: listed-jobs/gone not found\n',
    });
  });
});

describe('builds', () => {
  it('filters by start time and team, and prints each build with its api_url as JSON', async () => {
    await setPipeline('timed', `jobs:\n- name: j\n  plan:${task('t', 'true')}\n`);
    expect((await cli.run(['tj', '-j', 'timed/j', '-w'])).code).toBe(0);
    const json = JSON.parse((await cli.run(['builds', '-p', 'timed', '--json'])).stdout) as {
      id: number;
      api_url: string;
    }[];
    expect(json).toHaveLength(1);
    expect(json[0]?.api_url).toBe(`/api/v1/builds/${json[0]?.id}`);

    const local = (d: Date) =>
      `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')} ` +
      `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}:${String(d.getSeconds()).padStart(2, '0')}`;
    const hourAgo = local(new Date(Date.now() - 3600_000));
    const inAnHour = local(new Date(Date.now() + 3600_000));
    const rows = async (...args: string[]) =>
      (await cli.run(['builds', '-p', 'timed', ...args])).stdout
        .split('\n')
        .filter((l) => l.includes('timed/j'));
    expect(await rows('--since', hourAgo)).toHaveLength(1);
    expect(await rows('--until', hourAgo)).toHaveLength(0);
    expect(await rows('--since', inAnHour)).toHaveLength(0);
    expect(await cli.run(['builds', '--since', 'yesterday'])).toEqual({
      code: 1,
      stdout: '',
      stderr:
        "error: invalid --since 'yesterday': expected yyyy-mm-dd HH:mm:ss (local time), e.g. 2024-05-01 14:30:00\n",
    });

    const all = await cli.run(['--print-table-headers', 'bs', '--all-teams', '-c', '500']);
    expect(all.stdout.split('\n')[0]).toMatch(/\bteam$/);
    expect(all.stdout).toMatch(/timed\/j\s+1\s+succeeded.*main\n/);
    expect((await cli.run(['builds', '--team', 'main'])).stdout).toContain('timed/j');
  });
});

describe('archive-pipeline, order-pipelines, paused-pipelines, pause-pipeline --all', () => {
  it('archives a pipeline: paused, hidden, not unpausable, back with set-pipeline', async () => {
    await setPipeline('old', `jobs:\n- name: j\n  plan:${task('t', 'true')}\n`);
    const asked = await cli.run(['archive-pipeline', '-p', 'old'], { stdin: 'y\n' });
    expect(asked.stdout).toBe(
      "!!! archiving the pipeline pauses it for good until it is set again. Build history will be retained.\n\narchive pipeline 'old'? [yN]: archived 'old'\n",
    );
    expect((await cli.run(['ps'])).stdout).not.toMatch(/\bold\b/);
    const listed = await cli.run(['--print-table-headers', 'pipelines', '--include-archived']);
    expect(listed.stdout.split('\n')[0]).toMatch(/^id\s+name\s+paused\s+public\s+archived\s+last updated$/);
    expect(listed.stdout).toMatch(/\d+\s+old\s+yes\s+no\s+yes\s+/);
    const unpause = await cli.run(['unpause-pipeline', '-p', 'old']);
    expect(unpause.code).toBe(1);
    expect(unpause.stderr).toBe(
      'error: pipeline "old" is archived: set it again with set-pipeline to bring it back\n',
    );
    // An archived pipeline has no config to show (as Concourse): set-pipeline shows all of it as new,
    // and brings the pipeline back, paused.
    expect(await cli.run(['get-pipeline', '-p', 'old'])).toEqual({
      code: 1,
      stdout: '',
      stderr: 'error: pipeline not found\n',
    });
    const file = path.join(cli.dir, 'old.yml');
    const again = await cli.run(['set-pipeline', '-p', 'old', '-c', file, '-n']);
    expect(again.stdout).toMatch(/^@@ -0,0 \+1,\d+ @@\n\+jobs:\n/);
    expect(again.stdout).toMatch(/configuration updated\n$/);
    await writeFile(file, `jobs:\n- name: j2\n  plan:${task('t', 'true')}\n`);
    expect((await cli.run(['set-pipeline', '-p', 'old', '-c', file, '-n'])).code).toBe(0);
    expect((await cli.run(['ps'])).stdout).toMatch(/\d+\s+old\s+yes\s+no\s+/);
    expect((await cli.run(['up', '-p', 'old'])).stdout).toBe("unpaused 'old'\n");
    expect(await cli.run(['ap', '-p', 'absent', '-n'])).toEqual({
      code: 1,
      stdout: '',
      stderr: "error: pipeline 'absent' not found\n",
    });
  });

  it('orders pipelines, lists the paused ones, and pauses or unpauses all', async () => {
    const ordered = await cli.run(['order-pipelines', '-p', 'timed', '-p', 'rerun']);
    expect(ordered).toEqual({ code: 0, stdout: 'ordered pipelines\n  - timed\n  - rerun\n', stderr: '' });
    const names = async () =>
      (await cli.run(['ps'])).stdout
        .split('\n')
        .map((l) => l.split(/\s+/)[1])
        .filter(Boolean);
    expect((await names()).slice(0, 2)).toEqual(['timed', 'rerun']);
    expect((await cli.run(['op', '-p', 'no-such'])).stderr).toBe(
      'error: failed to order pipelines: pipeline "no-such" not found\n',
    );
    expect((await cli.run(['op'])).stderr).toBe('error: either --pipeline or --alphabetical is required\n');

    const paused = await cli.run(['pause-pipeline', '--all']);
    expect(paused.code).toBe(0);
    expect(paused.stdout).toContain("paused 'timed'\npaused 'rerun'\n");
    const listed = await cli.run(['--print-table-headers', 'pps']);
    expect(listed.stdout.split('\n')[0]).toMatch(/^id\s+name\s+paused\s+last updated$/);
    expect(listed.stdout).toMatch(/\d+\s+timed\s+yes\s+/);
    expect((await cli.run(['unpause-pipeline', '-a'])).stdout).toContain("unpaused 'timed'\n");
    expect((await cli.run(['paused-pipelines'])).stdout).not.toContain('timed');
    expect((await cli.run(['pp', '-p', 'x', '-a'])).stderr).toBe(
      "error: only one of the flags '-p, --pipeline' or '-a, --all' is allowed\n",
    );
    expect((await cli.run(['pp'])).stderr).toBe(
      "error: one of the flags '-p, --pipeline' or '-a, --all' is required\n",
    );
  });
});

describe('set_pipeline children', () => {
  const parent = (steps: string) => `
resources:
- name: files
  type: mock
  source:
    create_files:
      child.yml: |
        jobs:
        - name: hello
          plan:
          - task: t
            config: { platform: linux, run: { path: "true" } }
jobs:
- name: parent-job
  plan:
  - get: files${steps}
`;
  it('archives a child when the step that set it goes, and when its parent is destroyed', async () => {
    await setPipeline('parent', parent('\n  - set_pipeline: the-child\n    file: files/child.yml'));
    const run = await cli.run(['tj', '-j', 'parent/parent-job', '-w']);
    expect(run.stdout).toContain('setting pipeline: the-child\n');
    expect((await cli.run(['ps'])).stdout).toMatch(/\bthe-child\b/);
    // The step goes from the parent's config: the child is archived.
    await setPipeline('parent', parent(''));
    expect((await cli.run(['ps'])).stdout).not.toMatch(/\bthe-child\b/);
    expect((await cli.run(['ps', '--include-archived'])).stdout).toMatch(/\bthe-child\s+yes\s+no\s+yes/);

    // Set again by the step, it is back; destroying the parent archives it.
    await setPipeline('parent', parent('\n  - set_pipeline: the-child\n    file: files/child.yml'));
    expect((await cli.run(['tj', '-j', 'parent/parent-job', '-w'])).code).toBe(0);
    expect((await cli.run(['ps'])).stdout).toMatch(/\bthe-child\b/);
    expect((await cli.run(['dp', '-p', 'parent', '-n'])).code).toBe(0);
    expect((await cli.run(['ps', '--include-archived'])).stdout).toMatch(/\bthe-child\s+yes\s+no\s+yes/);
  });
});

describe('clear-task-cache, clear-resource-cache, clear-versions, check-resource --shallow', () => {
  it('clears a task step cache: the next build starts without it', async () => {
    const script = 'if [ -f c/file ]; then echo cached; else echo fresh; touch c/file; fi';
    await setPipeline(
      'cache',
      `jobs:\n- name: j\n  plan:${task('t', script, '\n      caches: [{ path: c }]')}\n`,
    );
    expect((await cli.run(['tj', '-j', 'cache/j', '-w'])).stdout).toContain('fresh\n');
    expect((await cli.run(['tj', '-j', 'cache/j', '-w'])).stdout).toContain('cached\n');
    const cleared = await cli.run(['clear-task-cache', '-j', 'cache/j', '-s', 't'], { stdin: 'y\n' });
    expect(cleared).toEqual({
      code: 0,
      stdout:
        '!!! this will remove the task cache(s) for `cache/j`, task step `t`\n\nare you sure? [yN]: 1 caches removed\n',
      stderr: '',
    });
    expect((await cli.run(['tj', '-j', 'cache/j', '-w'])).stdout).toContain('fresh\n');
    expect((await cli.run(['tj', '-j', 'cache/j', '-w'])).stdout).toContain('cached\n');
    expect((await cli.run(['ctc', '-j', 'cache/j', '-s', 'nope', '-n'])).stderr).toBe(
      "error: job 'cache/j' has no task step 'nope'\n",
    );
  });

  it("clears a resource's cached fetches and its versions", async () => {
    // Caches are shared by equal sources: this one is its own.
    await setPipeline(
      'cleared',
      versionPipeline.replace('no_initial_version: true', 'no_initial_version: true, log: cleared'),
    );
    expect((await cli.run(['cr', '-r', 'cleared/r', '-f', 'version:v1'])).code).toBe(0);
    expect((await cli.run(['tj', '-j', 'cleared/show', '-w'])).stdout).toContain('fetching version: v1');
    expect((await cli.run(['tj', '-j', 'cleared/show', '-w'])).stdout).toContain(
      'INFO: found existing resource cache',
    );
    const cache = await cli.run(['crc', '-r', 'cleared/r', '-n']);
    expect(cache).toEqual({
      code: 0,
      stdout: '!!! this will remove the resource cache(s) for `cleared/r`\n\n1 caches removed\n',
      stderr: '',
    });
    expect((await cli.run(['tj', '-j', 'cleared/show', '-w'])).stdout).toContain('fetching version: v1');

    const versions = await cli.run(['clear-versions', '--resource', 'cleared/r'], { stdin: 'y\n' });
    expect(versions).toEqual({
      code: 0,
      stdout:
        '!!! this will clear the version histories for the following resources:\n- main/cleared/r\n\nare you sure? [yN]: 1 versions removed\n',
      stderr: '',
    });
    expect((await cli.run(['rvs', '-r', 'cleared/r'])).stdout).toBe('');
    expect((await cli.run(['cv', '--resource', 'cleared/nope', '-n'])).stderr).toBe(
      "error: resource 'nope' is not found\n",
    );
  });

  it('checks only the resource with --shallow, not its custom type', async () => {
    await setPipeline(
      'shallow',
      `
resource_types:
- name: custom
  type: mock
  source: { mirror_self: true, initial_version: t1 }
resources:
- name: r
  type: custom
  source: { initial_version: r1 }
jobs: []
`,
    );
    const deep = await cli.run(['cr', '-r', 'shallow/r']);
    expect(deep.stdout).toContain('initializing check: custom');
    expect(deep.code).toBe(0);
    const shallow = await cli.run(['check-resource', '-r', 'shallow/r', '--shallow']);
    expect(shallow.stdout).toContain('initializing check: r');
    expect(shallow.stdout).not.toContain('initializing check: custom');
    expect(shallow.stdout).toMatch(/succeeded\n$/);
    expect(shallow.code).toBe(0);
  });
});
