// A get step's `version:` end to end through the CLI, a real hub and agent: `latest` (the default),
// `every` (one build per version, in order), a pinned map, and a map or a whole value that a var given to
// set-pipeline fills in (-v, -y, instance vars), as Concourse allows; a var nobody gave is named.

import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildSummary } from '../../hub/api/types.js';
import type { Sandbox } from '../../cli/test/fake-hub.js';
import { setPipelineByCli, startCliFixture, type CliFixture } from '../support/cli-fixture.js';
import { eventually } from '../support/eventually.js';

let fixture: CliFixture;
let cli: Sandbox;

beforeAll(async () => {
  fixture = await startCliFixture();
  cli = fixture.cli;
  expect(fixture.login.code).toBe(0);
}, 60_000);

afterAll(() => fixture.close());

/** A pipeline whose job gets `r` with `version` (YAML as written) and prints the version it fetched. */
function pipeline(version: string, trigger = false): string {
  return `resources:
- name: r
  type: mock
  check_every: never
  source: { no_initial_version: true }
jobs:
- name: j
  plan:
  - get: r
    trigger: ${trigger}
${version ? `    version: ${version}\n` : ''}  - task: show
    config:
      platform: linux
      inputs: [{ name: r }]
      run: { path: sh, args: ['-c', 'echo "got $(cat r/version)"'] }
`;
}

async function addVersions(resource: string, ...versions: string[]): Promise<void> {
  for (const v of versions) {
    const checked = await cli.run(['check-resource', '-r', resource, '-f', `version:${v}`]);
    expect(checked.code, checked.stderr).toBe(0);
  }
}

/** `trigger-job -w`'s exit code and the versions its build printed. */
async function triggered(job: string): Promise<{ code: number; got: string[]; stdout: string }> {
  const run = await cli.run(['trigger-job', '-j', job, '-w']);
  return {
    code: run.code,
    got: [...run.stdout.matchAll(/^got (\S+)$/gm)].map((m) => m[1]!),
    stdout: run.stdout,
  };
}

describe("a get step's version", () => {
  it('latest by default: the newest version', async () => {
    await setPipelineByCli(cli, 'latest', pipeline(''));
    await addVersions('latest/r', 'v1', 'v2');
    expect(await triggered('latest/j')).toMatchObject({ code: 0, got: ['v2'] });
  });

  it('every: each version in order, one build each, as new versions arrive', async () => {
    await setPipelineByCli(cli, 'every', pipeline('every', true));
    await addVersions('every/r', 'v1');
    await addVersions('every/r', 'v2', 'v3', 'v4');
    const builds = await eventually('four builds of every/j to succeed', async () => {
      const res = await fixture.hub.api<BuildSummary[]>('GET', '/teams/main/pipelines/every/jobs/j/builds');
      const done = res.body.filter((b) => b.status === 'succeeded');
      return done.length >= 4 ? res.body : undefined;
    });
    const printed: string[] = [];
    for (const build of [...builds].sort((a, b) => a.id - b.id)) {
      const watched = await cli.run(['watch', '-b', String(build.id)]);
      printed.push(...[...watched.stdout.matchAll(/^got (\S+)$/gm)].map((m) => m[1]!));
    }
    expect(printed).toEqual(['v1', 'v2', 'v3', 'v4']);
  });

  it('a pinned map: that version, not the newest', async () => {
    await setPipelineByCli(cli, 'pinned', pipeline('{ version: v1 }'));
    await addVersions('pinned/r', 'v1', 'v2');
    expect(await triggered('pinned/j')).toMatchObject({ code: 0, got: ['v1'] });
  });

  it('a map field from a -v var, a whole map or every from a -y var, a field from an instance var', async () => {
    await setPipelineByCli(cli, 'field', pipeline('{ version: ((ref)) }'), ['-v', 'ref=v1']);
    await addVersions('field/r', 'v1', 'v2');
    expect(await triggered('field/j')).toMatchObject({ code: 0, got: ['v1'] });

    await setPipelineByCli(cli, 'whole', pipeline('((v))'), ['-y', 'v={version: v2}']);
    await addVersions('whole/r', 'v1', 'v2', 'v3');
    expect(await triggered('whole/j')).toMatchObject({ code: 0, got: ['v2'] });

    await setPipelineByCli(cli, 'inst', pipeline('{ version: ((ref)) }'), ['-i', 'ref=v1']);
    await addVersions('inst/ref:v1/r', 'v1', 'v2');
    expect(await triggered('inst/ref:v1/j')).toMatchObject({ code: 0, got: ['v1'] });
  });

  it('a whole-value var filled with every makes the get take every version', async () => {
    await setPipelineByCli(cli, 'everyvar', pipeline('((mode))'), ['-v', 'mode=every']);
    await addVersions('everyvar/r', 'v1', 'v2');
    // With every, a manual trigger takes the next version this job has not used: v1 first.
    expect(await triggered('everyvar/j')).toMatchObject({ code: 0, got: ['v1'] });
    expect(await triggered('everyvar/j')).toMatchObject({ code: 0, got: ['v2'] });
  });

  it('names a var of a version that set-pipeline was not given; a word means latest, a number is an error', async () => {
    const waiting = async (name: string): Promise<string> => {
      await setPipelineByCli(cli, name, pipeline(name === 'unsetmap' ? '{ version: ((ref)) }' : '((v))'));
      await addVersions(`${name}/r`, 'v1');
      expect((await cli.run(['trigger-job', '-j', `${name}/j`])).code).toBe(0);
      return eventually(`${name}/j #1 to say why it waits`, async () => {
        const listed = await cli.run(['builds', '-j', `${name}/j`]);
        return /undefined vars/.test(listed.stdout) ? listed.stdout : undefined;
      });
    };
    expect(await waiting('unsetmap')).toContain(
      `version of get "r" has undefined vars: ref (give them when setting the pipeline: -v, -y, -l or -i; a get's version is not resolved when it runs)`,
    );
    expect(await waiting('unsetwhole')).toContain('version of get "r" has undefined vars: v (');

    // A word other than "every" is "latest" in Concourse (testflight passes "nil"): a warning here.
    const file = await written('word.yml', pipeline('((v))'));
    const word = await cli.run(['set-pipeline', '-p', 'word', '-c', file, '-n', '-v', 'v=newest']);
    expect(word.code).toBe(0);
    expect(word.stderr).toBe(
      `warning: ${file}:11:14: version "newest" is neither "latest" nor "every"; it means "latest"\n`,
    );
    const notText = await written('number.yml', pipeline('((v))'));
    const number = await cli.run(['set-pipeline', '-p', 'number', '-c', notText, '-n', '-y', 'v=3']);
    expect(number.code).toBe(1);
    expect(number.stderr).toContain(`${notText}:11:14: version must be`);
  });
});

async function written(name: string, text: string): Promise<string> {
  const file = path.join(cli.dir, name);
  await writeFile(file, text);
  return file;
}
