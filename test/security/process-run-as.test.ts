// Process pools with `run_as` (issue 15): the agent runs as root and its steps as an unprivileged user,
// so a step cannot read the agent's token file, the agent's artifact cache or another step's directory,
// yet writes its own outputs, which reach the next step. Runs where the test runs as root (CI's
// container); elsewhere it says why it is skipped.

import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { cleanupAfterEach } from '../support/cleanups.js';
import {
  finalStatus,
  logText,
  readBuildEvents,
  setPipeline,
  startTestAgent,
  startTestHub,
  triggerJob,
} from '../support/harness.js';
import { countRefused } from '../support/security-tally.js';

const defer = cleanupAfterEach();

const root = process.getuid?.() === 0;
const nobody = root ? Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim()) : -1;
if (!root)
  console.log('process run_as test skipped: it needs root to switch users (run it in CI or as root)');

function pipeline(tokenFile: string, cacheDir: string, stepsDir: string): string {
  const first = [
    'echo "uid=$(id -u)"',
    `cat ${tokenFile} || echo "token: unreadable"`,
    `ls ${cacheDir} || echo "cache: unreadable"`,
    `ls ${stepsDir} || echo "other steps: unlisted"`,
    'echo made-by-first > out/file',
    'echo "workdir mode $(stat -c %a .)"',
  ].join('; ');
  return `jobs:
- name: job
  plan:
  - task: first
    config:
      platform: linux
      outputs: [{ name: out }]
      run: { path: sh, args: ['-c', ${JSON.stringify(first)}] }
  - task: second
    config:
      platform: linux
      inputs: [{ name: out }]
      run: { path: sh, args: ['-c', 'echo "second read: $(cat out/file)"'] }
`;
}

describe.runIf(root)('a process pool with run_as', () => {
  it('runs steps as that user: the agent token is unreadable, outputs reach the next step', async () => {
    const hub = await startTestHub();
    defer(() => hub.close());
    const agent = await startTestAgent(hub, {
      pools: '  - name: local\n    platform: linux\n    capacity: 2\n    run_as: nobody',
      // The step user must be able to pass through the agent's dir to its own step dirs.
      dirMode: 0o711,
    });
    defer(() => agent.stop());
    await agent.welcomed;

    const work = path.join(agent.dir, 'work');
    await setPipeline(
      hub,
      'p',
      pipeline(path.join(agent.dir, 'token'), path.join(work, 'cache'), path.join(work, 'steps', 'local')),
    );
    const events = await readBuildEvents(hub, await triggerJob(hub, 'p', 'job'));
    const log = logText(events);
    expect(log).toContain(`uid=${nobody}`);
    expect(log).toMatch(/cat: .*token: Permission denied/);
    expect(log).toContain('token: unreadable');
    expect(log).toMatch(/ls: cannot open directory .*cache.*: Permission denied/);
    expect(log).toContain('other steps: unlisted');
    expect(log).toContain('workdir mode 700');
    expect(log).toContain('second read: made-by-first');
    expect(finalStatus(events)).toBe('succeeded');
    countRefused("a run_as step reading the agent's token");
  });

  it('refuses to start a pool whose run_as is root, naming the pool', async () => {
    const hub = await startTestHub();
    defer(() => hub.close());
    await expect(
      startTestAgent(hub, {
        pools: '  - name: local\n    platform: linux\n    run_as: root',
        dirMode: 0o711,
      }),
    ).rejects.toThrow('pool "local": run_as "root": must be an unprivileged user, not root');
  });

  it('refuses to start when the step user cannot reach its directories', async () => {
    const hub = await startTestHub();
    defer(() => hub.close());
    // mkdtemp's 0700: nobody cannot pass the agent's own directory.
    await expect(
      startTestAgent(hub, { pools: '  - name: local\n    platform: linux\n    run_as: nobody' }),
    ).rejects.toThrow(
      /pool "local": run_as "nobody": uid \d+ cannot reach the step directories under .*mode 0700/,
    );
  });
});
