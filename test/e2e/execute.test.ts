// `outpost execute` as a user runs it: a real CLI process against a real hub and agent. Local inputs
// are uploaded (leaving out what .gitignore ignores), the log streams, outputs come back, the exit code
// is fly's, Ctrl-C aborts, and every input mistake is an error naming it, before anything runs.

import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildSummary, UploadedArtifact } from '../../hub/api/types.js';
import { sandbox, type Sandbox } from '../../cli/test/fake-hub.js';
import { startCliFixture, type CliFixture } from '../support/cli-fixture.js';
import { spawnCli, type CliProcess } from '../support/cli-process.js';
import { readBuildEvents, startTestHub, triggerJob, type TestHub } from '../support/harness.js';
import { tarOf } from '../support/tar.js';

let fixture: CliFixture;
let hub: TestHub;
let cli: Sandbox;
/** A checkout-like directory: `src/` with a .gitignore, and the task files beside it. */
let work: string;

const TASK = `platform: linux
inputs: [{ name: src }]
outputs: [{ name: out }]
params: { GREETING: ((greeting)) }
run:
  path: sh
  args:
  - -c
  - |
    ls -A src | sort | tr '\\n' ' '; echo
    echo "$GREETING $*"
    cp src/data.txt out/copied.txt
  - sh
`;

function outpost(args: string[], cwd = work): CliProcess {
  return spawnCli(args, { cwd, env: cli.env as Record<string, string> });
}

async function run(
  args: string[],
  cwd = work,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = outpost(args, cwd);
  const code = await p.exited;
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

async function taskFile(name: string, text: string): Promise<string> {
  await writeFile(path.join(work, name), text);
  return name;
}

beforeAll(async () => {
  fixture = await startCliFixture();
  ({ hub, cli } = fixture);
  expect(fixture.login.code).toBe(0);
  work = path.join(cli.dir, 'work');
  await mkdir(path.join(work, 'src', 'build'), { recursive: true });
  await writeFile(path.join(work, 'src', 'data.txt'), 'the data\n');
  await writeFile(path.join(work, 'src', '.gitignore'), 'ignored.txt\nbuild/\n');
  await writeFile(path.join(work, 'src', 'ignored.txt'), 'secret scratch\n');
  await writeFile(path.join(work, 'src', 'build', 'artifact.bin'), 'x');
  await taskFile('task.yml', TASK);
}, 60_000);

afterAll(async () => {
  await fixture.close();
});

describe('outpost execute', () => {
  it('uploads inputs without ignored files, runs with vars and args, downloads outputs, exits 0', async () => {
    const result = await run([
      'execute',
      '-c',
      'task.yml',
      '-i',
      'src=./src',
      '-o',
      'out=./downloaded',
      '-v',
      'greeting=hello',
      '--',
      'one',
      'two',
    ]);
    expect(result.stderr).toMatch(/^uploading src: \d+(\.\d)? KiB done\ndownloading out: [\d.]+ KiB done\n$/);
    expect(result.stdout).toMatch(new RegExp(`^executing build (\\d+) at ${hub.url}/builds/\\1\\n`));
    // .gitignore is sent (git tracks it); what it ignores is not.
    expect(result.stdout).toContain('\n.gitignore data.txt \nhello one two\nsucceeded\n');
    expect(result.code).toBe(0);
    expect(await readFile(path.join(work, 'downloaded', 'copied.txt'), 'utf8')).toBe('the data\n');
  });

  it('shows a progress bar on a terminal while it uploads a 50 MB input', async () => {
    const big = path.join(cli.dir, 'big');
    await mkdir(big);
    await writeFile(path.join(big, 'blob.bin'), randomBytes(50 * 1024 * 1024));
    await taskFile(
      'big.yml',
      'platform: linux\ninputs: [{ name: big }]\nrun: { path: ls, args: [-l, big] }\n',
    );
    const p = spawnCli(['execute', '-c', 'big.yml', '-i', `big=${big}`], {
      cwd: work,
      env: cli.env as Record<string, string>,
      tty: true,
    });
    expect(await p.exited).toBe(0);
    const shown = p.stdout();
    // Redrawn in place as the bytes go, ending at the whole archive.
    expect(shown).toMatch(/\ruploading big \[#*\.+\] +\d+% /);
    expect(shown).toMatch(/\ruploading big \[#{30}\] 100% 50\.0 MiB\/50\.0 MiB/);
    expect(shown).toContain('52428800');
  }, 120_000);

  it('sends ignored files too with --include-ignored', async () => {
    const result = await run([
      'execute',
      '-c',
      'task.yml',
      '-i',
      'src=src',
      '--include-ignored',
      '-v',
      'greeting=hi',
    ]);
    expect(result.stdout).toContain('\n.gitignore build data.txt ignored.txt \nhi \nsucceeded\n');
    expect(result.code).toBe(0);
  });

  it('uploads the current directory as the input named after it, as fly does', async () => {
    const result = await run(['execute', '-c', '../task.yml', '-v', 'greeting=here'], path.join(work, 'src'));
    expect(result.stdout).toContain('\nhere \nsucceeded\n');
    expect(result.code).toBe(0);
  });

  it("exits with the task's exit status, and 2 when the task cannot start", async () => {
    await taskFile('fail.yml', "platform: linux\nrun: { path: sh, args: ['-c', 'echo failing; exit 5'] }\n");
    const failed = await run(['execute', '-c', 'fail.yml']);
    expect(failed.stdout).toMatch(/failing\nfailed\n$/);
    expect(failed.code).toBe(5);
    await taskFile('broken.yml', 'platform: linux\nrun: { path: /nonexistent/tool }\n');
    const errored = await run(['execute', '-c', 'broken.yml']);
    expect(errored.stdout).toMatch(/errored\n$/);
    expect(errored.code).toBe(2);
  });

  it('aborts the build on Ctrl-C and exits 3', async () => {
    await taskFile(
      'slow.yml',
      "platform: linux\nrun: { path: sh, args: ['-c', 'echo waiting; exec sleep 600'] }\n",
    );
    const p = outpost(['execute', '-c', 'slow.yml']);
    await p.waitFor('waiting\n');
    p.child.kill('SIGINT');
    expect(await p.exited).toBe(3);
    expect(p.stderr()).toContain('aborting...');
    expect(p.stdout()).toMatch(/interrupted\naborted\n$/);
    const id = Number(/executing build (\d+)/.exec(p.stdout())![1]);
    expect((await hub.api<BuildSummary>('GET', `/builds/${id}`)).body.status).toBe('aborted');
  });

  it('names the problem with the inputs before anything runs', async () => {
    const before = (await hub.api<BuildSummary[]>('GET', '/builds')).body.length;
    const missingDir = await run(['execute', '-c', 'task.yml', '-i', 'src=./nope', '-v', 'greeting=x']);
    expect(missingDir.stderr).toBe('error: input directory ./nope does not exist\n');
    expect(missingDir.code).toBe(1);
    const unknown = await run(['execute', '-c', 'task.yml', '-i', 'nope=./src', '-i', 'src=./src']);
    expect(unknown.stderr).toBe('error: unknown input `nope`\n');
    expect(unknown.code).toBe(1);
    const missing = await run(['execute', '-c', 'task.yml', '-v', 'greeting=x']);
    expect(missing.stderr).toBe('error: missing required input `src`\n');
    const unknownOutput = await run(['execute', '-c', 'task.yml', '-i', 'src=src', '-o', 'bin=./bin']);
    expect(unknownOutput.stderr).toBe('error: unknown output `bin`\n');
    const noConfig = await run(['execute', '-c', 'absent.yml']);
    expect(noConfig.stderr).toMatch(/^error: could not read absent\.yml: ENOENT/);
    await taskFile('invalid.yml', 'platform: linux\n');
    const invalid = await run(['execute', '-c', 'invalid.yml']);
    expect(invalid.stderr).toContain('error: invalid task config:\ninvalid.yml:');
    expect((await hub.api<BuildSummary[]>('GET', '/builds')).body.length).toBe(before);
  });

  it('lists one-off builds in `builds`, and shows them to their team only', async () => {
    const result = await run(['execute', '-c', 'fail.yml']);
    const id = Number(/executing build (\d+)/.exec(result.stdout)![1]);
    const builds = await cli.run(['builds']);
    expect(builds.stdout).toMatch(new RegExp(`^${id}\\s+one-off\\s+\\d+\\s+failed`, 'm'));
    const summary = (await hub.api<BuildSummary>('GET', `/builds/${id}`)).body;
    expect(summary).toMatchObject({
      id,
      team: 'main',
      pipeline: '',
      job: '',
      oneOff: true,
      status: 'failed',
    });
  });
});

describe('outpost execute -j', () => {
  it("runs on the job's latest inputs, with -m mapping a task input to a job input", async () => {
    const pipeline = `resources:
- name: repo
  type: mock
  source: { initial_version: v7 }
jobs:
- name: unit
  plan:
  - get: repo
`;
    expect((await hub.api('PUT', '/teams/main/pipelines/app/config', { source: pipeline })).status).toBe(200);
    await hub.api('PUT', '/teams/main/pipelines/app/unpause');
    const buildId = await triggerJob(hub, 'app', 'unit');
    await readBuildEvents(hub, buildId);
    await taskFile(
      'from-job.yml',
      'platform: linux\ninputs: [{ name: code }]\nrun: { path: cat, args: [code/version] }\n',
    );
    const result = await run(['execute', '-c', 'from-job.yml', '-j', 'app/unit', '-m', 'code=repo']);
    expect(result.stdout).toContain('\nv7\nsucceeded\n');
    expect(result.code).toBe(0);
    const unmapped = await run(['execute', '-c', 'from-job.yml', '-j', 'app/unit']);
    expect(unmapped.stderr).toBe('error: missing required input `code`\n');
    expect(unmapped.code).toBe(1);
  });
});

describe('uploads', () => {
  it("refuses another team's archive as not found", async () => {
    const up = await fetch(`${hub.url}/api/v1/teams/main/artifacts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${hub.adminToken}`, 'content-type': 'application/octet-stream' },
      body: await tarOf(path.join(work, 'src')),
    });
    const { digest } = (await up.json()) as UploadedArtifact;
    expect(up.status).toBe(200);
    expect((await hub.api('PUT', '/teams/beta', { members: [] })).status).toBeLessThan(300);
    const made = await hub.api<{ token: string }>('POST', '/teams/beta/api-tokens', {
      name: 'beta',
      role: 'member',
      expiresIn: 3600,
    });
    const res = await fetch(`${hub.url}/api/v1/teams/beta/builds`, {
      method: 'POST',
      headers: { authorization: `Bearer ${made.body.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        config: 'platform: linux\ninputs: [{name: src}]\nrun: { path: ls }',
        inputs: [{ name: 'src', digest }],
      }),
    });
    expect(res.status).toBe(404);
    expect(await res.text()).toContain(`uploaded archive ${digest} not found`);
  });

  it('refuses an archive with an entry outside its directory, naming it', async () => {
    const header = Buffer.alloc(512);
    header.write('../escape.txt', 0);
    header.write('0000644\0', 100);
    header.write('0000000\0', 108);
    header.write('0000000\0', 116);
    header.write('00000000000\0', 124);
    header.write('00000000000\0', 136);
    header.write('0', 156);
    header.write('ustar\0' + '00', 257);
    header.fill(' ', 148, 156);
    let sum = 0;
    for (const byte of header) sum += byte;
    header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
    const res = await fetch(`${hub.url}/api/v1/teams/main/artifacts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${hub.adminToken}`, 'content-type': 'application/octet-stream' },
      body: Buffer.concat([header, Buffer.alloc(1024)]),
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('archive entry \\"../escape.txt\\" points outside the directory');
  });

  it('refuses an input over the artifact limit with a clear error', async () => {
    const small = await startTestHub({ maxArtifactBytes: 64 * 1024 });
    try {
      const box = await sandbox();
      expect((await box.run(['login', '--url', small.url, '--token', small.adminToken])).code).toBe(0);
      await writeFile(path.join(work, 'src', 'big.bin'), randomBytes(200 * 1024));
      const p = spawnCli(['execute', '-c', 'task.yml', '-i', 'src=src', '-v', 'greeting=x'], {
        cwd: work,
        env: box.env as Record<string, string>,
      });
      expect(await p.exited).toBe(1);
      expect(p.stderr()).toMatch(
        /^error: uploading src failed: artifact of \d+ bytes exceeds the limit of 65536 bytes\n$/,
      );
    } finally {
      await small.close();
    }
  });
});
