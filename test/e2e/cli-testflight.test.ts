// What Concourse's own acceptance suite (testflight) runs through fly and checks, run through the real
// CLI against a real hub and agent: the gaps docs/testflight.md lists as fixed, each as testflight
// exercises it (our own pipelines, in the spirit of its fixtures).

import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { createPublicKey, verify, type JsonWebKey } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from '../../cli/test/fake-hub.js';
import { setPipelineByCli, startCliFixture, type CliFixture } from '../support/cli-fixture.js';
import { eventually } from '../support/eventually.js';

let fixture: CliFixture;
let cli: Sandbox;

beforeAll(async () => {
  fixture = await startCliFixture();
  cli = fixture.cli;
  expect(fixture.login.code).toBe(0);
});

afterAll(() => fixture.close());

const echoJob = (job: string, text: string) => `
- name: ${job}
  plan:
  - task: say
    config:
      platform: linux
      run: { path: echo, args: [${JSON.stringify(text)}] }`;

describe('the suite setup: tables and waiting for a build', () => {
  it('takes --print-table-headers (flyTable parses tables by their header row)', async () => {
    await setPipelineByCli(cli, 'tables', `jobs:${echoJob('j', 'hi')}\n`);
    const listed = await cli.run(['--print-table-headers', 'pipelines']);
    expect(listed.stderr).toBe('');
    expect(listed.code).toBe(0);
    const [header, row] = listed.stdout.split('\n');
    expect(header?.split(/\s{2,}/)).toEqual(['id', 'name', 'paused', 'public', 'last updated']);
    expect(row?.split(/\s{2,}/)[1]).toBe('tables');
  });

  it('watch of a job without builds says "job has no builds", which the suite polls on', async () => {
    await setPipelineByCli(cli, 'no-builds', `jobs:${echoJob('j', 'hi')}\n`);
    const watched = await cli.run(['watch', '-j', 'no-builds/j']);
    expect(watched).toEqual({ code: 1, stdout: '', stderr: 'error: job has no builds: no-builds/j\n' });
  });
});

describe('builds --json and curl (build_events_test)', () => {
  it("gives Concourse's build fields, and curl streams the build's events from its api_url", async () => {
    await setPipelineByCli(
      cli,
      'erroring',
      `jobs:
- name: across-step
  plan:
  - task: prepare-to-fail
    across: [{ var: v, values: [1] }]
    config:
      platform: linux
      run: { path: no-such-command-here }
`,
    );
    const run = await cli.run(['trigger-job', '-j', 'erroring/across-step', '-w']);
    expect(run.code).toBe(2);

    const listed = await cli.run(['builds', '-j', 'erroring/across-step', '--json']);
    expect(listed.code).toBe(0);
    const [build] = JSON.parse(listed.stdout) as Record<string, unknown>[];
    expect(build).toMatchObject({
      api_url: `/api/v1/builds/${String(build?.id)}`,
      team_name: 'main',
      pipeline_name: 'erroring',
      job_name: 'across-step',
      name: '1',
      status: 'errored',
    });
    // Unix seconds, as fly's --since/--until scripts compute with them.
    expect(build?.start_time).toBe(Math.floor(Number(build?.startedAt) / 1000));
    expect(build?.end_time).toBe(Math.floor(Number(build?.endedAt) / 1000));

    const events = await cli.run(['curl', `${String(build?.api_url)}/events`, '--', '--max-time', '5']);
    expect(events.code, events.stderr).toBe(0);
    // Two `error` events, as the spec counts: the task's, then the across step's own, with its message.
    const errors = events.stdout
      .split('\n')
      .filter((l) => l.startsWith('data: ') && l.includes('"event":"error"'))
      .map(
        (l) =>
          (JSON.parse(l.slice('data: '.length)) as { data: { origin: { id: string }; message: string } })
            .data,
      );
    expect(errors).toHaveLength(2);
    expect(errors[1]?.message).toBe(errors[0]?.message);
    expect(errors[1]?.origin.id).not.toBe(errors[0]?.origin.id);
    expect(events.stdout).toContain('"status":"errored"');
  });

  it("gives curl this command's input, as fly does (-- --data-binary @-)", async () => {
    await setPipelineByCli(cli, 'curl-first', `jobs:${echoJob('j', 'hi')}\n`);
    await setPipelineByCli(cli, 'curl-second', `jobs:${echoJob('j', 'hi')}\n`);
    const ordered = await cli.run(
      [
        'curl',
        '/api/v1/teams/main/pipelines/ordering',
        '--',
        '-s',
        '-f',
        '-X',
        'PUT',
        '-H',
        'Content-Type: application/json',
        '--data-binary',
        '@-',
      ],
      { stdin: '["curl-second","curl-first"]' },
    );
    expect(ordered.stderr).toBe('');
    expect(ordered.code).toBe(0);
    const names = (await cli.run(['pipelines'])).stdout.split('\n').map((l) => l.split(/\s+/)[1]);
    expect(names.slice(0, 2)).toEqual(['curl-second', 'curl-first']);
  });

  it('prints the curl command with the token redacted', async () => {
    const printed = await cli.run(['curl', '/api/v1/info?x=1', '--print-and-exit', '--', '-s']);
    expect(printed.code).toBe(0);
    expect(printed.stdout).toBe(
      `curl -H "Authorization: Bearer ((redacted))" -s ${fixture.hub.url}/api/v1/info?x=1\n`,
    );
    expect(printed.stdout).not.toContain(fixture.hub.adminToken);
  });
});

describe('execute --background (flying_test "works in background")', () => {
  it('creates the build and exits without watching it', async () => {
    const dir = path.join(cli.dir, 'background');
    await mkdir(path.join(dir, 'fixture'), { recursive: true });
    await writeFile(
      path.join(dir, 'task.yml'),
      'platform: linux\ninputs: [{ name: fixture }]\nrun: { path: sh, args: [-c, "echo ARGS are $0"] }\n',
    );
    const started = await cli.run([
      'execute',
      '-c',
      path.join(dir, 'task.yml'),
      '-i',
      `fixture=${path.join(dir, 'fixture')}`,
      '--background',
    ]);
    expect(started.code, started.stderr).toBe(0);
    const id = /^executing build (\d+) at /.exec(started.stdout)?.[1];
    expect(id, started.stdout).toBeDefined();
    // Nothing of the build's log: it was not watched.
    expect(started.stdout.split('\n').filter((l) => l !== '')).toHaveLength(1);
    const watched = await cli.run(['watch', '-b', String(id)]);
    expect(watched.code).toBe(0);
    expect(watched.stdout).toMatch(/succeeded\n$/);
  });
});

describe('archived pipelines (automatic_archiving_test)', () => {
  it('get-pipeline of an archived pipeline says "pipeline not found"', async () => {
    await setPipelineByCli(cli, 'to-archive', `jobs:${echoJob('normal-job', 'hello world')}\n`);
    expect((await cli.run(['get-pipeline', '-p', 'to-archive'])).stdout).toContain('normal-job');
    expect((await cli.run(['archive-pipeline', '-n', '-p', 'to-archive'])).code).toBe(0);
    const got = await cli.run(['get-pipeline', '-p', 'to-archive']);
    expect(got).toEqual({ code: 1, stdout: '', stderr: 'error: pipeline not found\n' });
  });
});

describe('a resource pinned in its config (pinned_version_check_test)', () => {
  const pinned = `
resources:
- name: some-resource
  type: mock
  version: { version: v1 }
  source: { no_initial_version: true }
jobs:
- name: some-passing-job
  plan:
  - get: some-resource
    version: ((version_config))
  - task: print-version
    config:
      platform: linux
      inputs: [{ name: some-resource }]
      run: { path: cat, args: [some-resource/version] }
`;

  it('is checked from its pin, and a get version word other than "every" means latest', async () => {
    const file = path.join(cli.dir, 'pinned.yml');
    await writeFile(file, pinned);
    const set = await cli.run(['set-pipeline', '-n', '-p', 'pinned', '-c', file, '-v', 'version_config=nil']);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stderr).toBe(
      `warning: ${file}:11:14: version "nil" is neither "latest" nor "every"; it means "latest"\n`,
    );
    expect((await cli.run(['unpause-pipeline', '-p', 'pinned'])).code).toBe(0);

    const check = await cli.run(['check-resource', '-r', 'pinned/some-resource']);
    expect(check.code, check.stdout).toBe(0);
    expect(check.stdout).toMatch(/succeeded\n$/);
    expect((await cli.run(['resource-versions', '-r', 'pinned/some-resource'])).stdout).toContain(
      'version:v1',
    );
    const run = await cli.run(['trigger-job', '-j', 'pinned/some-passing-job', '-w']);
    expect(run.code, run.stdout).toBe(0);
    expect(run.stdout).toMatch(/^v1$/m);
  });
});

describe('a pinned resource and its get (resource_version_test, pin_resource_test)', () => {
  // As Concourse's scheduler inputs (atc/db/job.go AlgorithmInputs): the resource's pin, from its config
  // or pin-resource, is what a get of `every` or `latest` takes; a get's own version map wins over it.
  const pinnedBy = (stepVersion: string, resourcePin: string) => `
resources:
- name: r
  type: mock
  ${resourcePin}
  source: { no_initial_version: true }
jobs:
- name: j
  plan:
  - get: r
    version: ${stepVersion}
  - task: show
    config:
      platform: linux
      inputs: [{ name: r }]
      run: { path: sh, args: [-c, 'echo "got $(cat r/version)"'] }
`;

  it.each([
    ['every', 'its config', 'pin-every', 'pinned'],
    ['latest', 'its config', 'pin-latest', 'pinned'],
    ['{ version: older }', 'its config', 'pin-map', 'older'],
    ['every', 'pin-resource', 'api-pin-every', 'pinned'],
    ['{ version: older }', 'pin-resource', 'api-pin-map', 'older'],
  ])('a get of version: %s, the resource pinned by %s', async (step, by, name, got) => {
    const inConfig = by === 'its config';
    await setPipelineByCli(cli, name, pinnedBy(step, inConfig ? 'version: { version: pinned }' : ''));
    for (const v of ['older', 'pinned', 'newer'])
      expect((await cli.run(['check-resource', '-r', `${name}/r`, '-f', `version:${v}`])).code).toBe(0);
    if (!inConfig) {
      const pinned = await cli.run(['pin-resource', '-r', `${name}/r`, '-v', 'version:pinned']);
      expect(pinned.code, pinned.stderr).toBe(0);
    }
    for (const _ of [1, 2]) {
      const run = await cli.run(['trigger-job', '-j', `${name}/j`, '-w']);
      expect(run.code, run.stdout).toBe(0);
      expect(run.stdout).toMatch(new RegExp(`^got ${got}$`, 'm'));
    }
  });
});

describe('intercept with several matching steps (retry_test)', () => {
  it('lists only the matching steps, with their attempts', async () => {
    await setPipelineByCli(
      cli,
      'retry',
      `jobs:
- name: j
  plan:
  - task: flaky
    attempts: 2
    config:
      platform: linux
      run: { path: sh, args: [-c, 'exit 1'] }
  - task: other
    config:
      platform: linux
      run: { path: 'false' }
`,
    );
    expect((await cli.run(['trigger-job', '-j', 'retry/j', '-w'])).code).toBe(1);
    const chosen = await cli.run(['intercept', '-j', 'retry/j', '-s', 'flaky', '--', 'true']);
    expect(chosen.code).toBe(1);
    expect(chosen.stderr).toBe(
      'error: several steps match; choose one with -s, --step-type or -a:\n' +
        '  step: flaky, type: task, attempt: 1 (failed)\n' +
        '  step: flaky, type: task, attempt: 2 (failed)\n',
    );
    const one = await cli.run(['intercept', '-j', 'retry/j', '-s', 'flaky', '-a', '2', '--', 'true']);
    expect(one.code, one.stderr).toBe(0);
  });
});

/** `--print-table-headers CMD` as testflight's flyTable reads it: a row per line, cells by header. */
async function flyTable(args: string[], target: string[] = []): Promise<Record<string, string>[]> {
  const listed = await cli.run([...target, '--print-table-headers', ...args]);
  expect(listed.code, listed.stderr).toBe(0);
  const [header = '', ...rows] = listed.stdout.trimEnd().split('\n');
  const names = header.trim().split(/\s{2,}/);
  return rows.map((row) => {
    const cells = row.trim().split(/\s{2,}/);
    // flyTable fails a spec whose row has an empty cell: fly prints `none` or `n/a` there.
    expect(cells).toHaveLength(names.length);
    return Object.fromEntries(names.map((n, i) => [n, cells[i] ?? '']));
  });
}

describe('containers and intercept --handle (containers_scoped_to_team_test)', () => {
  it("lists a running step by handle, enters it, and another team's user cannot", async () => {
    await setPipelineByCli(
      cli,
      'wait',
      `jobs:
- name: wait
  plan:
  - task: wait-for-intercept
    config:
      platform: linux
      run:
        path: sh
        args: [-c, 'until test -f stop-waiting; do echo "waiting for stop-waiting"; sleep 0.2; done; echo done']
`,
    );
    let waiting!: () => void;
    const started = new Promise<void>((resolve) => (waiting = resolve));
    const wait = cli.run(['trigger-job', '-w', '-j', 'wait/wait'], {
      onStdout: (s) => s.includes('waiting for stop-waiting') && waiting(),
    });
    await started;

    const rows = (await flyTable(['containers'])).filter((r) => r.pipeline === 'wait' && r.job === 'wait');
    expect(rows).toEqual([
      {
        handle: expect.stringMatching(/^\d+$/) as string,
        worker: 'test/agent-1',
        pipeline: 'wait',
        job: 'wait',
        'build #': '1',
        'build id': expect.stringMatching(/^\d+$/) as string,
        type: 'task',
        name: 'wait-for-intercept',
        attempt: 'n/a',
      },
    ]);
    const handle = rows[0]?.handle ?? '';
    const json = JSON.parse((await cli.run(['containers', '--json'])).stdout) as Record<string, unknown>[];
    expect(json.find((c) => c.id === handle)).toMatchObject({
      worker_name: 'test/agent-1',
      type: 'task',
      step_name: 'wait-for-intercept',
      pipeline_name: 'wait',
      job_name: 'wait',
      build_name: '1',
      state: 'running',
    });
    const entered = await cli.run([
      'intercept',
      '--handle',
      handle,
      '--',
      'sh',
      '-c',
      'echo "in $(basename "$PWD")"',
    ]);
    expect(entered.stderr).toBe('');
    expect(entered.code).toBe(0);
    expect(entered.stdout).toMatch(/^in \S+\n$/);

    // A user of another team sees none of main's containers and cannot enter them by handle.
    await fixture.hub.api('PUT', '/users/guest', { password: 'guest-long-password' });
    await fixture.hub.api('PUT', '/teams/guest', { members: [{ user: 'guest', role: 'member' }] });
    const guest = ['-t', 'guest'];
    const login = await cli.run([
      ...guest,
      'login',
      '-c',
      fixture.hub.url,
      '-n',
      'guest',
      '-u',
      'guest',
      '-p',
      'guest-long-password',
    ]);
    expect(login.code, login.stderr).toBe(0);
    expect(await flyTable(['containers'], guest)).toEqual([]);
    const refused = await cli.run([...guest, 'intercept', '--handle', handle, 'hostname']);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain('no containers matched the given handle id');

    // As the spec ends its build: through -j and -s.
    const stop = await cli.run([
      'intercept',
      '-j',
      'wait/wait',
      '-s',
      'wait-for-intercept',
      'touch',
      'stop-waiting',
    ]);
    expect(stop.code, stop.stderr).toBe(0);
    const finished = await wait;
    expect(finished.code).toBe(0);
    expect(finished.stdout).toContain('done\n');
    // A succeeded step is no container any more.
    expect((await flyTable(['containers'])).filter((r) => r.handle === handle)).toEqual([]);
  });

  it('lists a succeeded step its agent keeps while the build runs, enters it, and not after', async () => {
    await setPipelineByCli(
      cli,
      'kept',
      `jobs:
- name: kept
  plan:
  - task: first
    config:
      platform: linux
      run: {path: sh, args: [-c, 'echo kept-here > note']}
  - task: second
    config:
      platform: linux
      run:
        path: sh
        args: [-c, 'until test -f stop-waiting; do echo "second waits"; sleep 0.2; done']
`,
    );
    let waiting!: () => void;
    const started = new Promise<void>((resolve) => (waiting = resolve));
    const wait = cli.run(['trigger-job', '-w', '-j', 'kept/kept'], {
      onStdout: (s) => s.includes('second waits') && waiting(),
    });
    await started;

    const rows = (await flyTable(['containers'])).filter((r) => r.pipeline === 'kept');
    expect(rows.map((r) => r.name).sort()).toEqual(['first', 'second']);
    const first = rows.find((r) => r.name === 'first')!;
    const json = JSON.parse((await cli.run(['containers', '--json'])).stdout) as Record<string, unknown>[];
    expect(json.find((c) => c.id === first.handle)).toMatchObject({ step_name: 'first', state: 'succeeded' });
    const entered = await cli.run(['intercept', '--handle', first.handle!, 'cat', 'note']);
    expect(entered).toMatchObject({ code: 0, stdout: 'kept-here\n', stderr: '' });

    const stop = await cli.run(['intercept', '-j', 'kept/kept', '-s', 'second', 'touch', 'stop-waiting']);
    expect(stop.code, stop.stderr).toBe(0);
    expect((await wait).code).toBe(0);
    // The build succeeded: its agent let the step go, and it is no container any more.
    expect((await flyTable(['containers'])).filter((r) => r.pipeline === 'kept')).toEqual([]);
  });

  it("says so for a handle that names nothing, and for a job without builds, in fly's words", async () => {
    const none = await cli.run(['intercept', '--handle', '999999', 'true']);
    expect(none.code).toBe(1);
    expect(none.stderr).toBe(
      "error: no containers matched the given handle id!\n\nthey may have expired if your build hasn't recently finished.\n",
    );
    await setPipelineByCli(cli, 'never-ran', `jobs:${echoJob('j', 'hi')}\n`);
    const noBuilds = await cli.run(['intercept', '-j', 'never-ran/j', 'true']);
    expect(noBuilds).toEqual({
      code: 1,
      stdout: '',
      stderr: 'error: no containers matched your search parameters: job never-ran/j has no builds\n',
    });
  });
});

describe('a failed build keeps its succeeded put for intercept (put_inputs_test)', () => {
  const job = (name: string, gets: string[], put: string) => `
- name: ${name}
  plan:
${gets.map((g) => `  - get: ${g}`).join('\n')}
  - put: some-resource
${put}
  - task: failing-task
    config:
      platform: linux
      image_resource: { type: mock, source: { mirror_self: true } }
      run: { path: sh, args: [-c, 'exit 1'] }`;
  const resources = ['specified-input', 'all-input', 'map-input', 'some-resource']
    .map((r) => `- name: ${r}\n  type: mock\n  source: { initial_version: v1 }`)
    .join('\n');
  // `pushed`: the put succeeds (Concourse's mock refuses params it does not know: those puts fail).
  const jobs: { name: string; put: string; pushed: boolean; present: string[]; absent: string[] }[] = [
    {
      name: 'specified',
      put: '    inputs: [specified-input]',
      pushed: true,
      present: ['specified-input'],
      absent: ['all-input'],
    },
    {
      name: 'all',
      put: '    inputs: all',
      pushed: true,
      present: ['all-input', 'specified-input'],
      absent: [],
    },
    {
      name: 'empty',
      put: '    inputs: []',
      pushed: true,
      present: [],
      absent: ['all-input', 'specified-input'],
    },
    {
      name: 'none',
      pushed: false,
      put: '    params: { specified: specified-input/something, not_there: does-not-exist }',
      present: ['specified-input'],
      absent: ['all-input'],
    },
    {
      name: 'detect-simple',
      pushed: false,
      put: `    inputs: detect
    params: { specified: specified-input/something, not_there: does-not-exist }`,
      present: ['specified-input'],
      absent: ['all-input'],
    },
    {
      name: 'detect-complex',
      pushed: false,
      put: `    inputs: detect
    params:
      specified: [[specified-input/something, 123456], [does-not-exist]]
      map_param: { some-input: map-input/input, no: does-not-exist-too }`,
      present: ['specified-input', 'map-input'],
      absent: ['all-input', 'does-not-exist', 'does-not-exist-too', '123456'],
    },
  ];

  beforeAll(async () => {
    await setPipelineByCli(
      cli,
      'put-inputs',
      `resources:\n${resources}\njobs:${jobs
        .map((j) => job(j.name, ['specified-input', 'all-input', 'map-input'], j.put))
        .join('')}\n`,
    );
  });

  it.each(jobs)(
    '$name: ls in the put lists exactly its inputs',
    async ({ name, pushed, present, absent }) => {
      const run = await cli.run(['trigger-job', '-j', `put-inputs/${name}`, '-w']);
      expect(run.code, run.stdout + run.stderr).toBe(1);
      expect(run.stdout.includes('pushing version: '), run.stdout).toBe(pushed);
      const listed = await cli.run([
        'intercept',
        '-j',
        `put-inputs/${name}`,
        '-s',
        'some-resource',
        '--step-type',
        'put',
        '--',
        'ls',
      ]);
      expect(listed.code, listed.stderr).toBe(0);
      const names = listed.stdout.split('\n').filter(Boolean);
      for (const input of present) expect(names).toContain(input);
      for (const input of absent) expect(names).not.toContain(input);
    },
  );

  it("lets a succeeded build's steps go: nothing left to intercept, their directories removed", async () => {
    const stepDirs = path.join(fixture.agent.dir, 'work', 'resources', 'local');
    const listed = () => readdir(stepDirs).catch(() => [] as string[]);
    const before = new Set(await listed());
    await setPipelineByCli(
      cli,
      'put-succeeds',
      `resources:\n${resources}\njobs:
- name: j
  plan:
  - get: specified-input
  - put: some-resource
`,
    );
    const run = await cli.run(['trigger-job', '-j', 'put-succeeds/j', '-w']);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const entered = await cli.run(['intercept', '-j', 'put-succeeds/j', '--step-type', 'put', '--', 'ls']);
    expect(entered.code).toBe(1);
    expect(entered.stderr).toContain('a running or failed step');
    await eventually("the succeeded build's step directories removed", async () => {
      const left = (await listed()).filter((d) => !before.has(d));
      return left.length === 0 ? true : undefined;
    });
  });
});

describe('prototypes and the run step (prototype_test)', () => {
  it('runs a run step as Concourse does: it says it pretends to run the message, and succeeds', async () => {
    await setPipelineByCli(
      cli,
      'prototypes',
      `prototypes:
- name: some-prototype
  type: mock
  source: { mirror_self: true }
jobs:
- name: job
  plan:
  - run: some-message
    type: some-prototype
`,
    );
    const watch = await cli.run(['trigger-job', '-j', 'prototypes/job', '-w']);
    expect(watch.code, watch.stderr).toBe(0);
    expect(watch.stdout).toContain('run some-message on prototype some-prototype');
  });

  it('refuses a run step whose type is not a prototype, naming it', async () => {
    const file = path.join(cli.dir, 'no-prototype.yml');
    await writeFile(file, 'jobs:\n- name: job\n  plan:\n  - run: some-message\n    type: nope\n');
    const set = await cli.run(['set-pipeline', '-p', 'no-prototype', '-c', file, '-n']);
    expect(set.code).toBe(1);
    expect(set.stderr).toContain('unknown prototype "nope"');
  });
});

describe('idtoken var sources (idtoken_test)', () => {
  /** The JWT's header and claims, after checking its signature against the hub's published keys. */
  async function verified(
    token: string,
  ): Promise<{ header: Record<string, unknown>; claims: Record<string, unknown> }> {
    const discovery = (await (await fetch(`${fixture.hub.url}/.well-known/openid-configuration`)).json()) as {
      jwks_uri: string;
    };
    const jwks = (await (await fetch(discovery.jwks_uri)).json()) as {
      keys: (JsonWebKey & { kid: string })[];
    };
    const [header = '', claims = '', signature = ''] = token.split('.');
    const parsedHeader = JSON.parse(Buffer.from(header, 'base64url').toString()) as Record<string, unknown>;
    const jwk = jwks.keys.find((k) => k.kid === parsedHeader.kid);
    expect(jwk, 'the signing key is published').toBeDefined();
    const ok = verify(
      'sha256',
      Buffer.from(`${header}.${claims}`),
      { key: createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }), dsaEncoding: 'ieee-p1363' },
      Buffer.from(signature, 'base64url'),
    );
    expect(ok, 'the signature verifies').toBe(true);
    return {
      header: parsedHeader,
      claims: JSON.parse(Buffer.from(claims, 'base64url').toString()) as Record<string, unknown>,
    };
  }

  let output = '';
  const half = (name: string) => new RegExp(`^${name}: (.*)$`, 'm').exec(output)?.[1] ?? '';

  beforeAll(async () => {
    await setPipelineByCli(
      cli,
      'idtoken',
      `var_sources:
- name: defaultidtoken
  type: idtoken
  config: { audience: [sts.amazonaws.com] }
- name: customidtoken
  type: idtoken
  config: { subject_scope: team, audience: [sts.amazonaws.com], expires_in: 1h, algorithm: ES256 }
jobs:
- name: print-creds
  plan:
  - task: print
    config:
      platform: linux
      run:
        path: bash
        args:
        - -c
        - |
          d="((defaultidtoken:token))"; c="((customidtoken:token))"
          echo "D1: \${d:0:$((\${#d} / 2))}"; echo "D2: \${d:$((\${#d} / 2))}"
          echo "C1: \${c:0:$((\${#c} / 2))}"; echo "C2: \${c:$((\${#c} / 2))}"
`,
    );
    const watch = await cli.run(['trigger-job', '-j', 'idtoken/print-creds', '-w']);
    expect(watch.code, watch.stdout + watch.stderr).toBe(0);
    output = watch.stdout;
  });

  it('signs an RS256 token whose subject is team/pipeline', async () => {
    const { header, claims } = await verified(half('D1') + half('D2'));
    expect(header.alg).toBe('RS256');
    expect(claims).toMatchObject({
      iss: fixture.hub.url,
      aud: ['sts.amazonaws.com'],
      team: 'main',
      pipeline: 'idtoken',
      job: 'print-creds',
      sub: 'main/idtoken',
    });
    expect(Number(claims.exp) - Number(claims.iat)).toBe(3600);
  });

  it('signs an ES256 token scoped to the team', async () => {
    const { header, claims } = await verified(half('C1') + half('C2'));
    expect(header.alg).toBe('ES256');
    expect(claims).toMatchObject({
      aud: ['sts.amazonaws.com'],
      team: 'main',
      pipeline: 'idtoken',
      sub: 'main',
    });
  });

  it('publishes the issuer and its JWKS at /.well-known/openid-configuration', async () => {
    const res = await fetch(`${fixture.hub.url}/.well-known/openid-configuration`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { issuer: string; jwks_uri: string };
    expect(body.issuer).toBe(fixture.hub.url);
    expect(body.jwks_uri).toBe(`${fixture.hub.url}/.well-known/jwks.json`);
  });

  it('refuses an idtoken source with a config it does not know, naming the problem', async () => {
    const file = path.join(cli.dir, 'bad-idtoken.yml');
    await writeFile(
      file,
      `var_sources:\n- name: t\n  type: idtoken\n  config: { expires_in: 48h }\njobs:${echoJob('j', 'hi')}\n`,
    );
    const set = await cli.run(['set-pipeline', '-p', 'bad-idtoken', '-c', file, '-n']);
    expect(set.code).toBe(1);
    expect(set.stderr).toContain('var source "t": expires_in must be <= 24h');
  });
});
