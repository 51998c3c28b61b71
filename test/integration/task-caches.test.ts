// Task `caches` under an input's or an output's path on a process pool, end to end through the CLI, a
// real hub and agent: as in Concourse the cache is mounted inside the input or output, so the next build
// of the step finds what the last one left there, the input's own files are there beside it, and the
// cache does not travel with the output to later steps (it is a volume of its own in Concourse).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from '../../cli/test/fake-hub.js';
import { setPipelineByCli, startCliFixture, type CliFixture } from '../support/cli-fixture.js';

let fixture: CliFixture;
let cli: Sandbox;

beforeAll(async () => {
  fixture = await startCliFixture();
  cli = fixture.cli;
  expect(fixture.login.code).toBe(0);
}, 60_000);

afterAll(() => fixture.close());

const task = (name: string, script: string, extra: string) => `
  - task: ${name}
    config:
      platform: linux
${extra}
      run: { path: sh, args: ['-c', ${JSON.stringify(script)}] }`;

/** Runs the job and returns its output, checking it succeeded. */
async function run(job: string): Promise<string> {
  const result = await cli.run(['trigger-job', '-j', job, '-w']);
  expect(result.code, result.stdout + result.stderr).toBe(0);
  return result.stdout;
}

describe('task caches on a process pool', () => {
  it("under an input's path: the next build sees the cached file inside the input, and the input's own files", async () => {
    // Each build makes a repo with a file of its own; the cache inside it keeps what earlier builds had.
    const use = [
      'echo "repo has: $(ls repo | tr "\\n" " ")"',
      'echo "readme: $(cat repo/README)"',
      'if [ -f repo/node_modules/seen ]; then echo "cached: $(cat repo/node_modules/seen)"; else echo "cache empty"; fi',
      'cat repo/README >> repo/node_modules/seen',
    ].join('; ');
    await setPipelineByCli(
      cli,
      'incache',
      `jobs:
- name: j
  plan:${task('make', `echo "made $(date +%s%N)" > repo/README`, '      outputs: [{ name: repo }]')}${task(
    'use',
    use,
    '      inputs: [{ name: repo }]\n      caches: [{ path: repo/node_modules }]',
  )}
`,
    );
    const first = await run('incache/j');
    const firstReadme = /^readme: (made \d+)$/m.exec(first)?.[1];
    expect(firstReadme, first).toBeDefined();
    expect(first).toContain('cache empty\n');
    const second = await run('incache/j');
    expect(second).toContain('repo has: README node_modules \n');
    const secondReadme = /^readme: (made \d+)$/m.exec(second)?.[1];
    expect(secondReadme, second).toBeDefined();
    expect(secondReadme).not.toBe(firstReadme);
    expect(second).toContain(`cached: ${firstReadme}\n`);
  });

  it("under an output's path: kept for the next build, not passed on with the output", async () => {
    const make = [
      'if [ -f out/cache/seen ]; then echo "cached: $(cat out/cache/seen)"; else echo "cache empty"; fi',
      'echo "from an earlier build" > out/cache/seen',
      'echo result > out/result',
    ].join('; ');
    await setPipelineByCli(
      cli,
      'outcache',
      `jobs:
- name: j
  plan:${task('make', make, '      outputs: [{ name: out }]\n      caches: [{ path: out/cache }]')}${task(
    'after',
    'echo "out has: $(ls out | tr "\\n" " ")"',
    '      inputs: [{ name: out }]',
  )}
`,
    );
    const first = await run('outcache/j');
    expect(first).toContain('cache empty\n');
    expect(first).toContain('out has: result \n');
    const second = await run('outcache/j');
    expect(second).toContain('cached: from an earlier build\n');
    expect(second).toContain('out has: result \n');
  });

  it("takes the place of the input's own files at its path, as a cache volume mounted there does", async () => {
    const use = [
      'echo "lib has: $(ls repo/lib | tr "\n" " ")"',
      'echo "readme: $(cat repo/README)"',
      'touch repo/lib/from-cache',
    ].join('; ');
    await setPipelineByCli(
      cli,
      'shadow',
      `jobs:
- name: j
  plan:${task('make', 'mkdir repo/lib && echo x > repo/lib/from-input && echo hi > repo/README', '      outputs: [{ name: repo }]')}${task(
    'use',
    use,
    '      inputs: [{ name: repo }]\n      caches: [{ path: repo/lib }]',
  )}
`,
    );
    const first = await run('shadow/j');
    expect(first).toContain('lib has: \n');
    expect(first).toContain('readme: hi\n');
    expect(await run('shadow/j')).toContain('lib has: from-cache \n');
  });

  it('names a cache path that would swallow an input', async () => {
    await setPipelineByCli(
      cli,
      'swallow',
      `jobs:
- name: j
  plan:${task('make', 'echo hi > repo/README', '      outputs: [{ name: repo }]')}${task(
    'use',
    'ls',
    '      inputs: [{ name: repo, path: src/repo }]\n      caches: [{ path: src }]',
  )}
`,
    );
    const result = await cli.run(['trigger-job', '-j', 'swallow/j', '-w']);
    expect(result.stdout).toContain('cache path "src" collides with an input or output\nerrored\n');
    expect(result.code).toBe(2);
  });
});
