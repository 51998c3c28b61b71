// The CLI against a real hub and agent: what a user types and sees, with fly's output and exit codes.

import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from '../../cli/test/fake-hub.js';
import { startCliFixture, type CliFixture } from '../support/cli-fixture.js';
import { startTestAgent, waitForEvents, type TestHub } from '../support/harness.js';

let fixture: CliFixture;
let hub: TestHub;
let cli: Sandbox;

beforeAll(async () => {
  fixture = await startCliFixture();
  ({ hub, cli } = fixture);
  expect(fixture.login.stdout).toContain(`logged in to ${hub.url} as admin; saved target default`);
});

afterAll(() => fixture.close());

async function pipelineFile(name: string, script: string): Promise<string> {
  const file = path.join(cli.dir, `${name}.yml`);
  await writeFile(
    file,
    `jobs:
- name: job
  plan:
  - task: run
    config:
      platform: linux
      run:
        path: sh
        args: ['-c', ${JSON.stringify(script)}]
`,
  );
  return file;
}

async function setPipeline(name: string, script: string): Promise<void> {
  const result = await cli.run(['set-pipeline', '-p', name, '-c', await pipelineFile(name, script), '-n']);
  expect(result.stdout).toContain('pipeline created!');
  expect(result.stdout).toContain(`outpost unpause-pipeline -p ${name}`);
  expect(result.code).toBe(0);
  const unpaused = await cli.run(['unpause-pipeline', '-p', name]);
  expect(unpaused.code).toBe(0);
}

describe('outpost trigger-job -w', () => {
  it('prints the build as fly does and exits 0 on success', async () => {
    await setPipeline('hello', 'echo hello world');
    const result = await cli.run(['trigger-job', '-j', 'hello/job', '-w']);
    expect(result.stdout).toBe(
      'started hello/job #1\ninitializing\nselected worker: test/agent-1 (pool local)\nrunning sh -c echo hello world\nhello world\nsucceeded\n',
    );
    expect(result.code).toBe(0);
  });

  it('exits with the task exit status when the task fails', async () => {
    await setPipeline('fails', 'echo bad; exit 3');
    const result = await cli.run(['trigger-job', '-j', 'fails/job', '-w']);
    expect(result.stdout).toMatch(/bad\nfailed\n$/);
    expect(result.code).toBe(3);
  });

  it('exits 2 when the step errors, showing why', async () => {
    await writeFile(
      path.join(cli.dir, 'err.yml'),
      'jobs:\n- name: job\n  plan:\n  - task: t\n    config: { platform: linux, run: { path: /nonexistent/tool } }\n',
    );
    await cli.run(['set-pipeline', '-p', 'err', '-c', path.join(cli.dir, 'err.yml'), '-n']);
    await cli.run(['unpause-pipeline', '-p', 'err']);
    const result = await cli.run(['trigger-job', '-j', 'err/job', '-w']);
    expect(result.stdout + result.stderr).toContain('/nonexistent/tool');
    expect(result.stdout).toMatch(/errored\n$/);
    expect(result.code).toBe(2);
  });

  it('says how to give a var the build could not resolve', async () => {
    await setPipeline('novar', 'echo ((greeting))');
    const result = await cli.run(['trigger-job', '-j', 'novar/job', '-w']);
    expect(result.stdout).toContain(
      'undefined vars: greeting\n  give greeting when setting the pipeline: -v greeting=VALUE (or -y greeting=YAML, or -l FILE with a "greeting:" key)\n',
    );
    expect(result.code).toBe(2);
  });

  it('exits 3 when the build is aborted', async () => {
    await setPipeline('slow', 'echo waiting; exec sleep 600');
    const watching = cli.run(['trigger-job', '-j', 'slow/job', '-w']);
    const builds = async () => (await hub.api<{ id: number; pipeline: string }[]>('GET', '/builds')).body;
    let build = (await builds()).find((b) => b.pipeline === 'slow');
    while (!build) build = (await builds()).find((b) => b.pipeline === 'slow');
    await waitForEvents(hub, build.id, 'waiting\\n');
    const abort = await cli.run(['abort-build', '-j', 'slow/job', '-b', '1']);
    expect(abort.stdout).toContain('build successfully aborted');
    const result = await watching;
    expect(result.stdout).toContain('interrupted');
    expect(result.stdout).toMatch(/aborted\n$/);
    expect(result.code).toBe(3);
  });
});

describe('outpost abort-build', () => {
  it('says that a finished build has finished and exits 1, by job and build name or by id', async () => {
    await setPipeline('done', 'echo done');
    const run = await cli.run(['trigger-job', '-j', 'done/job', '-w']);
    expect(run.code).toBe(0);
    const expected = 'error: build done/job #1 has already finished (succeeded); there is nothing to abort\n';
    expect(await cli.run(['abort-build', '-j', 'done/job', '-b', '1'])).toEqual({
      code: 1,
      stdout: '',
      stderr: expected,
    });
    const { id } = (await hub.api<{ id: number }>('GET', '/teams/main/pipelines/done/jobs/job/builds/1'))
      .body;
    expect(await cli.run(['abort-build', '-b', String(id)])).toEqual({
      code: 1,
      stdout: '',
      stderr: expected,
    });
    expect((await hub.api<{ status: string }>('GET', `/builds/${id}`)).body.status).toBe('succeeded');
  });
});

describe('outpost login', () => {
  it('names an agent token pasted in place of an API token, and saves nothing', async () => {
    const agentToken = await hub.newAgentToken('pasted');
    const result = await cli.run(['login', '-t', 'wrong', '--url', hub.url, '--token', agentToken]);
    expect(result).toEqual({
      code: 1,
      stdout: '',
      stderr:
        "error: login failed: this is an agent token (opa_…), for outpost-agent; log in with an API token (opu_…), such as the admin token the hub wrote at its first start; target 'wrong' not saved\n",
    });
    expect(await cli.readConfig()).not.toContain('wrong:');
  });
});

describe('outpost set-pipeline', () => {
  it('reports an unknown key with file:line:col and exits 1', async () => {
    const file = path.join(cli.dir, 'bad.yml');
    await writeFile(
      file,
      'jobs:\n- name: job\n  plan:\n  - task: t\n    bogus: true\n    config: { platform: linux, run: { path: "true" } }\n',
    );
    const result = await cli.run(['set-pipeline', '-p', 'bad', '-c', file, '-n']);
    expect(result.stderr).toContain(`${file}:5:5: unknown field "bogus" in task step`);
    expect(result.code).toBe(1);
  });

  it('shows a diff of the change', async () => {
    await setPipeline('diffed', 'echo one');
    const result = await cli.run([
      'set-pipeline',
      '-p',
      'diffed',
      '-c',
      await pipelineFile('diffed', 'echo two'),
      '-n',
    ]);
    expect(result.stdout).toContain(`-        args: ['-c', "echo one"]`);
    expect(result.stdout).toContain(`+        args: ['-c', "echo two"]`);
    expect(result.stdout).toContain('configuration updated');
  });
});

describe('outpost agents', () => {
  it('lists pools with capacity in use, and shows a stopped agent as disconnected', async () => {
    const second = await startTestAgent(hub, {
      name: 'second',
      pools: '  - name: big\n    platform: linux\n    tags: [large]\n    capacity: 8',
    });
    await second.welcomed;
    let result = await cli.run(['agents']);
    expect(result.stdout).toMatch(/second\s+test\s+big\(linux tags=\[large\]\) 0\/8\s+connected/);
    await second.stop();
    // The hub notices the closed stream a moment after the agent let go of it.
    do result = await cli.run(['agents']);
    while (!/second.*disconnected/.test(result.stdout));
    expect(result.stdout).toMatch(/second\s+test\s+big\(linux tags=\[large\]\) 0\/8\s+disconnected/);
    expect(result.stdout).toMatch(/agent-1\s+test\s+local\(linux tags=\[\]\) 0\/4\s+connected/);
  });
});

describe('outpost pipelines, get-pipeline, destroy-pipeline, rename-pipeline', () => {
  it("lists the team's pipelines in fly's table, and as JSON", async () => {
    await setPipeline('listed', 'echo listed');
    await cli.run(['set-pipeline', '-p', 'held', '-c', await pipelineFile('held', 'echo held'), '-n']);
    const table = await cli.run(['--print-table-headers', 'pipelines']);
    expect(table.code).toBe(0);
    const lines = table.stdout.split('\n');
    expect(lines[0]).toMatch(/^id\s+name\s+paused\s+public\s+last updated$/);
    const date = String.raw`\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d[+-]\d{4}`;
    expect(lines).toContainEqual(
      expect.stringMatching(new RegExp(`^\\d+\\s+listed\\s+no\\s+no\\s+${date}$`)),
    );
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^\\d+\\s+held\\s+yes\\s+no\\s+${date}$`)));
    expect((await cli.run(['--print-table-headers', 'ps'])).stdout).toBe(table.stdout);

    const json = await cli.run(['pipelines', '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toContainEqual(
      expect.objectContaining({ name: 'held', team: 'main', paused: true }),
    );
  });

  it('prints a config as set, as JSON with --json, and "pipeline not found" with exit 1', async () => {
    const file = await pipelineFile('shown', 'echo shown');
    await cli.run(['set-pipeline', '-p', 'shown', '-c', file, '-n']);
    const yaml = await cli.run(['get-pipeline', '-p', 'shown']);
    expect(yaml).toEqual({ code: 0, stdout: await readFile(file, 'utf8'), stderr: '' });
    const json = await cli.run(['gp', '-p', 'shown', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ jobs: [{ name: 'job', plan: [{ task: 'run' }] }] });
    expect(await cli.run(['get-pipeline', '-p', 'absent'])).toEqual({
      code: 1,
      stdout: '',
      stderr: 'error: pipeline not found\n',
    });
  });

  it('aborts a running build before destroying its pipeline, and the hub goes on', async () => {
    await setPipeline('busy', 'echo working; exec sleep 600');
    const watching = cli.run(['trigger-job', '-j', 'busy/job', '-w']);
    const builds = async () => (await hub.api<{ id: number; pipeline: string }[]>('GET', '/builds')).body;
    let build = (await builds()).find((b) => b.pipeline === 'busy');
    while (!build) build = (await builds()).find((b) => b.pipeline === 'busy');
    await waitForEvents(hub, build.id, 'working\\n');
    expect((await cli.run(['destroy-pipeline', '-p', 'busy', '-n'])).stdout).toContain('`busy` deleted\n');
    expect((await watching).stdout).toMatch(/aborted\n$/);
    // Nothing of it is left half-written, and other pipelines' builds still run.
    expect((await builds()).filter((b) => b.pipeline === 'busy')).toEqual([]);
    await setPipeline('survivor', 'echo still here');
    expect((await cli.run(['trigger-job', '-j', 'survivor/job', '-w'])).code).toBe(0);
  });

  it('destroys a pipeline with its builds after asking, as fly', async () => {
    await setPipeline('doomed', 'echo doomed');
    expect((await cli.run(['trigger-job', '-j', 'doomed/job', '-w'])).code).toBe(0);
    const warning = '!!! this will remove all data for pipeline `doomed`\n\nare you sure? [yN]: ';

    expect(await cli.run(['destroy-pipeline', '-p', 'doomed'], { stdin: 'n\n' })).toEqual({
      code: 0,
      stdout: `${warning}bailing out\n`,
      stderr: '',
    });
    expect((await cli.run(['get-pipeline', '-p', 'doomed'])).code).toBe(0);

    expect(await cli.run(['destroy-pipeline', '-p', 'doomed'], { stdin: 'y\n' })).toEqual({
      code: 0,
      stdout: `${warning}\`doomed\` deleted\n`,
      stderr: '',
    });
    expect((await cli.run(['get-pipeline', '-p', 'doomed'])).stderr).toBe('error: pipeline not found\n');
    const builds = (await hub.api<{ pipeline: string }[]>('GET', '/builds')).body;
    expect(builds.filter((b) => b.pipeline === 'doomed')).toEqual([]);
    // Set again under the same name, it starts over: build 1, not 2.
    await setPipeline('doomed', 'echo again');
    expect((await cli.run(['trigger-job', '-j', 'doomed/job', '-w'])).stdout).toMatch(
      /^started doomed\/job #1\n/,
    );

    expect(await cli.run(['dp', '-p', 'doomed', '-n'])).toEqual({
      code: 0,
      stdout: '!!! this will remove all data for pipeline `doomed`\n\n`doomed` deleted\n',
      stderr: '',
    });
    expect(await cli.run(['dp', '-p', 'doomed', '--non-interactive'])).toEqual({
      code: 0,
      stdout: '!!! this will remove all data for pipeline `doomed`\n\n`doomed` does not exist\n',
      stderr: '',
    });
  });

  it('renames a pipeline, which keeps its builds; an unknown or taken name exits 1', async () => {
    await setPipeline('before', 'echo before');
    expect((await cli.run(['trigger-job', '-j', 'before/job', '-w'])).code).toBe(0);
    expect(await cli.run(['rename-pipeline', '-o', 'before', '-n', 'after'])).toEqual({
      code: 0,
      stdout: 'pipeline successfully renamed to after\n',
      stderr: '',
    });
    const builds = (await hub.api<{ name: string }[]>('GET', '/teams/main/pipelines/after/jobs/job/builds'))
      .body;
    expect(builds.map((b) => b.name)).toEqual(['1']);
    expect((await cli.run(['trigger-job', '-j', 'after/job', '-w'])).stdout).toMatch(
      /^started after\/job #2\n/,
    );

    expect(await cli.run(['rp', '-o', 'before', '-n', 'other'])).toEqual({
      code: 1,
      stdout: '',
      stderr: "error: pipeline 'before' not found\n",
    });
    await setPipeline('taken', 'echo taken');
    const taken = await cli.run(['rp', '-o', 'after', '-n', 'taken']);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toMatch(/^error: pipeline "taken" already exists/);
    const invalid = await cli.run(['rp', '-o', 'after', '-n', 'Not Valid']);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain('"name"');
  });
});
