// The built-in semver resource's git driver against a real repository: a local bare repository (as
// file path) and the same one over `git http-backend` with basic auth. Each test reads what a
// pipeline would see: check's versions, get's files, and the commits a put left on the branch.

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gitIn, startGitHttpServer, type GitServer } from '../../../test/support/git-servers.js';
import type { BuiltinContext } from '../builtin.js';
import { semverResource } from './semver.js';
import { applyBump, format, parseVersion } from './version.js';

let root: string;
let http: GitServer;
let bare: string;

async function run(kind: BuiltinContext['kind'], request: Record<string, unknown>, dir?: string) {
  const lines: string[] = [];
  const response = await semverResource({
    kind,
    requestJson: JSON.stringify({ params: {}, version: null, ...request }),
    dir: dir ?? (await mkdtemp(path.join(root, 'step-'))),
    env: {},
    privileged: false,
    log: (line) => lines.push(line),
    signal: new AbortController().signal,
    now: () => new Date(),
  });
  return { response, lines };
}

function failure(kind: BuiltinContext['kind'], request: Record<string, unknown>): Promise<string> {
  return run(kind, request).then(
    () => 'succeeded',
    (err: unknown) => (err as Error).message,
  );
}

/** The branch's version file (trimmed) and last commit, read from the server's repository. */
function onServer(branch: string, file: string) {
  return {
    content: gitIn(bare, 'show', `${branch}:${file}`),
    message: gitIn(bare, 'log', '-1', '--format=%s', branch).trim(),
    author: gitIn(bare, 'log', '-1', '--format=%an <%ae>', branch).trim(),
  };
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'outpost-semver-'));
  bare = path.join(root, 'versions.git');
  gitIn(root, 'init', '-q', '--bare', '-b', 'main', 'versions.git');
  gitIn(root, 'init', '-q', '-b', 'version', 'seed');
  const seed = path.join(root, 'seed');
  await writeFile(path.join(seed, 'README'), 'versions\n');
  gitIn(seed, 'add', 'README');
  gitIn(seed, 'commit', '-q', '-m', 'start');
  gitIn(seed, 'push', '-q', bare, 'version');
  http = await startGitHttpServer(root, 'ci', 'semver-Pa55');
});

afterAll(async () => {
  await http.close();
  await rm(root, { recursive: true, force: true });
});

describe('semver with the git driver', () => {
  const source = { driver: 'git', uri: '', branch: 'version', file: 'app/version' };
  beforeAll(() => {
    source.uri = bare;
  });

  it('checks initial_version while there is no file, then the file; puts bump it with a commit', async () => {
    expect((await run('check', { source })).response).toEqual([{ number: '0.0.0' }]);
    expect((await run('check', { source: { ...source, initial_version: '1.4.0' } })).response).toEqual([
      { number: '1.4.0' },
    ]);
    const s = { ...source, initial_version: '1.4.0', git_user: 'Release Bot <bot@example.com>' };
    expect((await run('put', { source: s, params: { bump: 'minor' } })).response).toEqual({
      version: { number: '1.5.0' },
      metadata: [{ name: 'number', value: '1.5.0' }],
    });
    expect(onServer('version', 'app/version')).toEqual({
      content: '1.5.0',
      message: 'bump to 1.5.0',
      author: 'Release Bot <bot@example.com>',
    });
    expect((await run('check', { source })).response).toEqual([{ number: '1.5.0' }]);

    const msg = { ...source, commit_message: 'release %version% (%file%) [ci skip]' };
    await run('put', { source: msg, params: { bump: 'major', pre: 'rc' } });
    expect(onServer('version', 'app/version')).toMatchObject({
      content: '2.0.0-rc.1',
      message: 'release 2.0.0-rc.1 (app/version) [ci skip]',
      author: 'Outpost <outpost@localhost>',
    });
    await run('put', { source, params: { pre: 'rc' } });
    await run('put', { source, params: { bump: 'final' } });
    await run('put', { source, params: { bump: 'patch' } });
    expect(onServer('version', 'app/version').content).toBe('2.0.1');

    // A check from an older version walks the file's history back to it.
    expect((await run('check', { source, version: { number: '2.0.0-rc.2' } })).response).toEqual([
      { number: '2.0.0-rc.2' },
      { number: '2.0.0' },
      { number: '2.0.1' },
    ]);
  });

  it('get writes number and version, bumped locally (pre, pre_without_version) without pushing', async () => {
    const dest = await mkdtemp(path.join(root, 'get-'));
    const head = gitIn(bare, 'rev-parse', 'version');
    const { response, lines } = await run(
      'get',
      { source, version: { number: '1.2.3' }, params: { bump: 'minor', pre: 'beta' } },
      dest,
    );
    expect(response).toEqual({
      version: { number: '1.2.3' },
      metadata: [{ name: 'number', value: '1.2.3' }],
    });
    expect(await readFile(path.join(dest, 'number'), 'utf8')).toBe('1.3.0-beta.1');
    expect(await readFile(path.join(dest, 'version'), 'utf8')).toBe('1.3.0-beta.1');
    expect(lines).toContain('bumped locally from 1.2.3 to 1.3.0-beta.1');
    await run(
      'get',
      {
        source,
        version: { number: '1.2.4-SNAPSHOT' },
        params: { pre: 'SNAPSHOT', pre_without_version: true },
      },
      dest,
    );
    expect(await readFile(path.join(dest, 'number'), 'utf8')).toBe('1.2.4-SNAPSHOT');
    expect(gitIn(bare, 'rev-parse', 'version')).toBe(head);
  });

  it('put with file sets the version from a file; over HTTP with basic auth', async () => {
    const work = await mkdtemp(path.join(root, 'put-'));
    await writeFile(path.join(work, 'next'), '7.0.0\n');
    const overHttp = { ...source, uri: http.url('versions.git'), username: 'ci', password: 'semver-Pa55' };
    expect((await run('put', { source: overHttp, params: { file: 'next' } }, work)).response).toMatchObject({
      version: { number: '7.0.0' },
    });
    expect(onServer('version', 'app/version').content).toBe('7.0.0');
    const refused = await failure('check', { source: { ...overHttp, password: 'wrong-Pa55' } });
    expect(refused).toMatch(/git clone failed/);
    expect(refused).not.toContain('wrong-Pa55');
  });

  it('bumps again on top of a version someone else pushed meanwhile', async () => {
    // A second writer pushes between our clone and our push: a hook on the server rejects our first
    // push once, after pushing 8.0.0 itself, as a racing pipeline would.
    const hook = path.join(bare, 'hooks', 'pre-receive');
    const racer = path.join(root, 'racer');
    gitIn(root, 'clone', '-q', '--branch', 'version', bare, 'racer');
    await writeFile(path.join(racer, 'app', 'version'), '8.0.0\n');
    gitIn(racer, 'commit', '-q', '-am', 'racer bumps to 8.0.0');
    await writeFile(
      hook,
      `#!/bin/sh\nif [ ! -e "${root}/raced" ]; then touch "${root}/raced"; cd "${racer}" && env -i PATH="$PATH" git push -q "${bare}" version >&2; exit 1; fi\n`,
      { mode: 0o755 },
    );
    const { response, lines } = await run('put', { source, params: { bump: 'patch' } });
    expect(response).toMatchObject({ version: { number: '8.0.1' } });
    expect(lines).toContain('push to version was rejected; trying again from a fresh clone');
    await rm(hook);
  });

  it('refuses the other drivers by name, unknown keys, and bad bumps', async () => {
    expect(await failure('check', { source: { bucket: 'b', key: 'k' } })).toBe(
      `source.driver "s3" is not supported by Outpost's built-in semver resource (it has the git driver only; set driver: git, or run semver-resource from its image)`,
    );
    expect(await failure('check', { source: { driver: 'gcs' } })).toMatch(
      /source.driver "gcs" is not supported/,
    );
    expect(await failure('check', { source: { ...source, bucket: 'b' } })).toBe(
      'source: unknown key "bucket"',
    );
    expect(await failure('check', { source: { driver: 'git', uri: bare, branch: 'version' } })).toBe(
      'source.file is required by the git driver',
    );
    expect(await failure('put', { source, params: { bump: 'huge' } })).toBe(
      'params.bump must be major, minor, patch or final, not "huge"',
    );
    expect(await failure('put', { source, params: {} })).toBe(
      'no version bump specified (set params.file, params.bump or params.pre)',
    );
  });
});

describe('version bumps (semver-resource semantics)', () => {
  const bump = (v: string, b: Partial<Parameters<typeof applyBump>[1]>) =>
    format(
      applyBump(parseVersion(v, 'v'), {
        bump: undefined,
        pre: undefined,
        preWithoutVersion: false,
        build: undefined,
        buildWithoutVersion: false,
        ...b,
      }),
    );

  it.each([
    ['1.2.3', { bump: 'major' }, '2.0.0'],
    ['1.2.3-rc.1', { bump: 'minor' }, '1.3.0'],
    ['1.2.3-rc.1', { bump: 'patch' }, '1.2.4'],
    ['1.2.3-rc.1', { bump: 'final' }, '1.2.3'],
    ['1.2.3-rc.1', { pre: 'rc' }, '1.2.3-rc.2'],
    ['1.2.3-alpha.4', { pre: 'beta' }, '1.2.3-beta.1'],
    ['1.2.3', { bump: 'patch', pre: 'rc' }, '1.2.4-rc.1'],
    ['1.2.4-SNAPSHOT', { bump: 'minor' }, '1.3.0'],
    ['1.2.3', { build: 'ci' }, '1.2.3+ci.1'],
    ['1.2.3+ci.1', { build: 'ci' }, '1.2.3+ci.2'],
  ] as const)('%s with %o is %s', (from, b, to) => {
    expect(bump(from, b as never)).toBe(to);
  });
});
