// `outpost intercept` (alias hijack) as a user runs it: a real CLI process into a running step of a
// real agent's process pool, through the hub (the agent dials out; the hub relays over a Tunnel).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli-process.js';
import { startCliFixture, type CliFixture } from '../support/cli-fixture.js';
import { triggerJob, waitForEvents } from '../support/harness.js';

let fixture: CliFixture;
let hub: CliFixture['hub'];
let agent: CliFixture['agent'];
let cli: CliFixture['cli'];
let buildId: number;

const PIPELINE = `jobs:
- name: job
  plan:
  - task: run
    config:
      platform: linux
      params: { MARKER: from-the-step }
      run: { path: sh, args: ['-c', 'echo started; exec sleep 600'] }
`;

async function outpost(args: string[], tty = false) {
  const p = spawnCli(args, { cwd: cli.dir, env: cli.env as Record<string, string>, tty });
  const code = await p.exited;
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

beforeAll(async () => {
  fixture = await startCliFixture();
  ({ hub, agent, cli } = fixture);
  expect(fixture.login.code).toBe(0);
  expect((await hub.api('PUT', '/teams/main/pipelines/p/config', { source: PIPELINE })).status).toBe(200);
  await hub.api('PUT', '/teams/main/pipelines/p/unpause');
  buildId = await triggerJob(hub, 'p', 'job');
  await waitForEvents(hub, buildId, 'started\\n');
}, 60_000);

afterAll(async () => {
  await hub.api('PUT', `/builds/${buildId}/abort`);
  await fixture.close();
});

describe('outpost intercept', () => {
  it("runs a command in the step's directory and environment and exits with its status", async () => {
    const result = await outpost([
      'intercept',
      '-j',
      'p/job',
      '--',
      'sh',
      '-c',
      'echo $PWD; echo $MARKER; exit 3',
    ]);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(new RegExp(`^${agent.dir}/work/\\S+\\nfrom-the-step\\n$`));
    expect(result.code).toBe(3);
  });

  it('passes stdin through (hijack is its alias, -b the build id)', async () => {
    const p = spawnCli(
      ['hijack', '-b', String(buildId), '-s', 'run', '--', 'sh', '-c', 'read line; echo got $line'],
      {
        cwd: cli.dir,
        env: cli.env as Record<string, string>,
        stdin: 'hello\n',
      },
    );
    expect(await p.exited).toBe(0);
    expect(p.stdout()).toBe('got hello\n');
  });

  it('runs under a pseudo-terminal when stdin is a terminal', async () => {
    const result = await outpost(
      ['intercept', '-b', String(buildId), '--', 'sh', '-c', 'echo $PWD; tty; exit 3'],
      true,
    );
    // Two terminals (the agent's and the test's own `script`) each turn "\n" into "\r\n"; the remote
    // terminal may also echo a NUL that the test's own `script` writes as the command starts (`^@`).
    expect(result.stdout).toMatch(new RegExp(`${agent.dir}/work/\\S+\\r*\\n(?:\\^@)*/dev/pts/\\d+`));
    expect(result.code).toBe(3);
  });

  it('says which steps run when the one asked for does not', async () => {
    const result = await outpost(['intercept', '-b', String(buildId), '-s', 'nope', '--', 'true']);
    expect(result.stderr).toBe(
      `error: a running step matching that in build ${buildId} (running: run (task)) not found\n`,
    );
    expect(result.code).toBe(1);
    const finished = await outpost(['intercept', '-b', '999', '--', 'true']);
    expect(finished.stderr).toBe('error: build 999 not found\n');
  });
});
