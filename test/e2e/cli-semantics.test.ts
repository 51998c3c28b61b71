// Semantics that differed from Concourse in an independent run of its acceptance scenarios (issue 17,
// item 7), through the real CLI against a real hub and agent: what the user types and sees.

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

async function setPipeline(name: string, yaml: string): Promise<void> {
  const file = path.join(cli.dir, `${name}.yml`);
  await writeFile(file, yaml);
  const set = await cli.run(['set-pipeline', '-p', name, '-c', file, '-n']);
  expect(set.code, set.stderr).toBe(0);
  expect((await cli.run(['unpause-pipeline', '-p', name])).code).toBe(0);
}

describe('pin-resource', () => {
  it("pins the newest version matching the pairs given and says so in fly's words", async () => {
    await setPipeline(
      'pins',
      `resources:
- name: r
  type: mock
  check_every: never
  source: { no_initial_version: true }
jobs:
- name: j
  plan: [{ get: r }]
`,
    );
    for (const v of ['v1', 'v2'])
      expect(
        (await cli.run(['check-resource', '-r', 'pins/r', '-f', `version:${v}`, '-f', 'privileged:no'])).code,
      ).toBe(0);
    // Not every field is needed: the pairs given must match exactly.
    const pinned = await cli.run(['pin-resource', '-r', 'pins/r', '-v', 'version:v1', '-c', 'known good']);
    expect(pinned).toEqual({
      code: 0,
      stdout: `pinned 'pins/r' with version {"privileged":"no","version":"v1"}\npin comment 'known good' is saved\n`,
      stderr: '',
    });
    const missing = await cli.run(['pin-resource', '-r', 'pins/r', '-v', 'version:v9']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('resource pins/r has no version version:v9');
    expect(await cli.run(['unpin-resource', '-r', 'pins/r'])).toEqual({
      code: 0,
      stdout: "unpinned 'pins/r'\n",
      stderr: '',
    });
  });
});

describe('renaming a resource with old_name', () => {
  it('keeps its versions, and its passed jobs run on with them', async () => {
    const config = (name: string, oldName = '') => `resources:
- name: ${name}${oldName ? `\n  old_name: ${oldName}` : ''}
  type: mock
  check_every: never
  source: { no_initial_version: true }
jobs:
- name: up
  plan: [{ get: ${name} }]
- name: down
  plan:
  - get: ${name}
    passed: [up]
`;
    await setPipeline('renamed', config('old'));
    expect((await cli.run(['check-resource', '-r', 'renamed/old', '-f', 'version:v1'])).code).toBe(0);
    expect((await cli.run(['trigger-job', '-j', 'renamed/up', '-w'])).code).toBe(0);

    await setPipeline('renamed', config('new', 'old'));
    const versions = await cli.run(['resource-versions', '-r', 'renamed/new']);
    expect(versions.stdout).toContain('version:v1');
    // v1 went through up under the old name; down takes it under the new one (up's fetch is cached).
    const down = await cli.run(['trigger-job', '-j', 'renamed/down', '-w']);
    expect(down.stdout).toContain('INFO: found existing resource cache');
    expect(down.code).toBe(0);
  });
});

describe('a resource type named like a base type', () => {
  it('shadows it: resources of that name run on it, and its own type is the base type', async () => {
    await setPipeline(
      'shadow',
      `resource_types:
- name: mock
  type: mock
  source: { initial_version: from-the-type }
resources:
- name: r
  type: mock
  source: {}
jobs:
- name: j
  plan: [{ get: r }]
`,
    );
    // r's check runs on the custom type's version (MIRRORED_VERSION), so its first version is that.
    const run = await cli.run(['trigger-job', '-j', 'shadow/j', '-w']);
    expect(run.stdout).toContain('fetching version: from-the-type');
    expect(run.code).toBe(0);
  });
});
