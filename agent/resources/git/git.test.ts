// The built-in git resource against real git servers on loopback: `git http-backend` behind basic
// auth and `git daemon`. Each test reads what a pipeline would see: check's versions, get's files and
// metadata, and what a put left on the server.

import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  gitIn,
  startGitDaemon,
  startGitHttpServer,
  type GitServer,
} from '../../../test/support/git-servers.js';
import { selfSignedCert } from '../../../test/support/self-signed.js';
import { makeKey, sshdUnavailable, startSshd, type TestSshd } from '../../../test/support/sshd.js';
import type { BuiltinContext } from '../builtin.js';
import { git } from './git.js';
import { requiredMessage, requireAll } from '../../../test/support/require-all.js';

const USER = 'ci';
const PASSWORD = 's3cret-Pa55word';

let root: string; // the servers' repositories
let seed: string; // a working copy that makes the commits
let http: GitServer;
let daemon: GitServer;
const c = {} as {
  initial: string;
  featureA: string;
  skipped: string;
  deployB: string;
  docs: string;
  dev: string;
};

async function commit(file: string, message: string): Promise<string> {
  await mkdir(path.dirname(path.join(seed, file)), { recursive: true });
  await writeFile(path.join(seed, file), `${message}\n`);
  gitIn(seed, 'add', file);
  gitIn(seed, 'commit', '-q', '-m', message);
  return gitIn(seed, 'rev-parse', 'HEAD');
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'outpost-git-servers-'));
  seed = path.join(root, 'seed');
  gitIn(root, 'init', '-q', '--bare', '-b', 'main', 'app.git');
  gitIn(root, 'init', '-q', '--bare', '-b', 'main', 'lib.git');
  gitIn(root, 'init', '-q', '-b', 'main', 'seed');
  c.initial = await commit('README', 'initial');
  c.featureA = await commit('src/a.txt', 'feature a');
  c.skipped = await commit('docs/x.md', 'docs [ci skip]');
  c.deployB = await commit('src/b.txt', 'deploy b');
  gitIn(seed, 'tag', '-a', '-m', 'release 1.0.0', 'v1.0.0');
  gitIn(seed, 'tag', 'other-1');
  c.docs = await commit('docs/y.md', 'docs only');
  gitIn(seed, 'push', '-q', path.join(root, 'app.git'), 'main', '--tags');
  gitIn(seed, 'checkout', '-q', '-b', 'dev');
  c.dev = await commit('dev.txt', 'on dev');
  gitIn(seed, 'push', '-q', path.join(root, 'app.git'), 'dev');
  gitIn(seed, 'checkout', '-q', 'main');
  http = await startGitHttpServer(root, USER, PASSWORD);
  daemon = await startGitDaemon(root);
});

afterAll(async () => {
  await http.close();
  await daemon.close();
  await rm(root, { recursive: true, force: true });
});

let dir: string;
let log: string[];
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-git-step-'));
  log = [];
  return () => rm(dir, { recursive: true, force: true });
});

function context(kind: BuiltinContext['kind'], request: unknown): BuiltinContext {
  return {
    kind,
    requestJson: JSON.stringify(request),
    dir,
    env: {},
    privileged: false,
    log: (line) => log.push(line),
    signal: new AbortController().signal,
    now: () => new Date(),
  };
}

const httpSource = (extra: Record<string, unknown> = {}) => ({
  uri: http.url('app.git'),
  username: USER,
  password: PASSWORD,
  ...extra,
});

async function check(source: Record<string, unknown>, version?: Record<string, string>): Promise<unknown> {
  return git(context('check', { source, version: version ?? null }));
}

async function failure(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'succeeded',
    (err: unknown) => (err as Error).message,
  );
}

describe('check', () => {
  it('reports only the latest commit on a first check, and version_depth more', async () => {
    expect(await check(httpSource())).toEqual([{ ref: c.docs }]);
    expect(await check(httpSource({ version_depth: 2 }))).toEqual([{ ref: c.deployB }, { ref: c.docs }]);
  });

  it('reports every commit from the given version on, oldest first, skipping [ci skip] unless disabled', async () => {
    expect(await check(httpSource(), { ref: c.featureA })).toEqual([
      { ref: c.featureA },
      { ref: c.deployB },
      { ref: c.docs },
    ]);
    expect(await check(httpSource({ disable_ci_skip: true }), { ref: c.featureA })).toEqual([
      { ref: c.featureA },
      { ref: c.skipped },
      { ref: c.deployB },
      { ref: c.docs },
    ]);
  });

  it('tracks the given branch, else the remote HEAD', async () => {
    expect(await check(httpSource({ branch: 'dev' }))).toEqual([{ ref: c.dev }]);
    expect(await check(httpSource({ branch: 'main' }))).toEqual([{ ref: c.docs }]);
  });

  it('counts only commits touching paths, or not only ignore_paths', async () => {
    expect(await check(httpSource({ paths: ['src/*'] }))).toEqual([{ ref: c.deployB }]);
    expect(await check(httpSource({ paths: ['src/*'] }), { ref: c.initial })).toEqual([
      { ref: c.featureA },
      { ref: c.deployB },
    ]);
    expect(await check(httpSource({ ignore_paths: ['docs/*'] }), { ref: c.initial })).toEqual([
      { ref: c.initial },
      { ref: c.featureA },
      { ref: c.deployB },
    ]);
  });

  it('filters commit messages with commit_filter include and exclude', async () => {
    const from = { ref: c.initial };
    expect(await check(httpSource({ commit_filter: { include: ['feature'] } }), from)).toEqual([
      { ref: c.featureA },
    ]);
    expect(await check(httpSource({ commit_filter: { exclude: ['docs', 'init'] } }), from)).toEqual([
      { ref: c.featureA },
      { ref: c.deployB },
    ]);
  });

  it('reports tagged commits with tag_filter (glob) or tag_regex', async () => {
    const tagged = [{ ref: 'v1.0.0', commit: c.deployB }];
    expect(await check(httpSource({ tag_filter: 'v*' }))).toEqual(tagged);
    expect(await check(httpSource({ tag_regex: 'v[0-9.]+' }))).toEqual(tagged);
    expect(await failure(check(httpSource({ tag_filter: 'v*', tag_regex: 'v.*' })))).toBe(
      'Cannot provide both tag_filter and tag_regex',
    );
  });

  it('works over git:// (git daemon) without credentials', async () => {
    expect(await check({ uri: daemon.url('app.git') }, { ref: c.deployB })).toEqual([
      { ref: c.deployB },
      { ref: c.docs },
    ]);
  });

  it("fails with git's reason on wrong credentials, and never shows the password", async () => {
    const before = http.rejected;
    const message = await failure(check(httpSource({ password: 'wrong-password-123' })));
    expect(message).toMatch(/^git clone failed \(exit 128\): fatal: Authentication failed/);
    expect(http.rejected).toBeGreaterThan(before);
    const withUrlCreds = await failure(
      check({ uri: http.url('app.git').replace('//', `//${USER}:wrong-password-123@`) }),
    );
    expect(withUrlCreds).not.toContain('wrong-password-123');
    expect(log.join('\n')).not.toContain('wrong-password-123');
  });

  it('refuses bad source with a message naming the key', async () => {
    expect(await failure(check({ uri: '' }))).toBe('source.uri is required and must not be empty');
    expect(await failure(check(httpSource({ paths: 'src' })))).toBe(
      'source.paths must be a list of strings, not a string',
    );
    expect(await failure(check(httpSource({ git_crypt_key: 'x' })))).toBe(
      "source.git_crypt_key is not supported by Outpost's built-in git resource",
    );
    expect(await failure(check(httpSource({ version_depth: 0 })))).toBe(
      'source.version_depth must be a positive integer',
    );
  });
});

describe('get', () => {
  async function get(source: Record<string, unknown>, params: Record<string, unknown>, version?: object) {
    return git(context('get', { source, params, version: version ?? null }));
  }
  const dotGit = (name: string) => readFile(path.join(dir, '.git', name), 'utf8');

  it('checks out the version and writes the .git files and metadata', async () => {
    const result = (await get(httpSource(), {}, { ref: c.deployB })) as {
      version: unknown;
      metadata: { name: string; value: string }[];
    };
    expect(result.version).toEqual({ ref: c.deployB });
    expect(gitIn(dir, 'rev-parse', 'HEAD')).toBe(c.deployB);
    expect(await readFile(path.join(dir, 'src/b.txt'), 'utf8')).toBe('deploy b\n');
    expect(await dotGit('ref')).toBe(`${c.deployB}\n`);
    expect(await dotGit('short_ref')).toBe(c.deployB.slice(0, 7));
    expect(await dotGit('commit_message')).toBe('deploy b\n');
    expect(await dotGit('committer')).toBe('ada@example.com');
    expect(await dotGit('describe_ref')).toBe('v1.0.0\n');
    const meta = Object.fromEntries(result.metadata.map((m) => [m.name, m.value]));
    expect(meta).toMatchObject({
      commit: c.deployB,
      author: 'Ada',
      committer: 'Ada',
      tags: 'other-1,v1.0.0',
      message: 'deploy b\n',
    });
    expect(meta.author_date).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}$/);
    expect(log.join('\n')).not.toContain(PASSWORD);
  });

  it('without a version, checks out the branch head; short_ref_format templates short_ref', async () => {
    const result = await get(httpSource({ branch: 'dev' }), { short_ref_format: 'dev-%s' });
    expect(result).toMatchObject({ version: { ref: c.dev } });
    expect(await dotGit('short_ref')).toBe(`dev-${c.dev.slice(0, 7)}`);
  });

  it('shallow-clones with depth and deepens until the version is found', async () => {
    await get({ uri: daemon.url('app.git') }, { depth: 1 }, { ref: c.featureA });
    expect(gitIn(dir, 'rev-parse', 'HEAD')).toBe(c.featureA);
    expect(gitIn(dir, 'rev-parse', '--is-shallow-repository')).toBe('true');
  });

  it('fetch_tags false fetches no tags; clean_tags deletes them after the checkout', async () => {
    await get(httpSource({ fetch_tags: false }), {}, { ref: c.deployB });
    expect(gitIn(dir, 'tag')).toBe('');
    await rm(dir, { recursive: true });
    await mkdir(dir);
    await get(httpSource(), { clean_tags: true, fetch_tags: true }, { ref: c.deployB });
    expect(await dotGit('describe_ref')).toBe('v1.0.0\n');
    expect(gitIn(dir, 'tag')).toBe('');
  });

  /** Branch with-sub of app.git: a submodule vendor/lib (lib.git, over HTTP), made once. */
  let withSubmodule: Promise<void> | undefined;
  const branchWithSubmodule = () =>
    (withSubmodule ??= (async () => {
      const lib = path.join(root, 'lib-seed');
      gitIn(root, 'clone', '-q', path.join(root, 'lib.git'), lib);
      await writeFile(path.join(lib, 'lib.txt'), 'lib\n');
      gitIn(lib, 'add', '.');
      gitIn(lib, 'commit', '-q', '-m', 'lib');
      gitIn(lib, 'push', '-q', 'origin', 'HEAD:main');
      const withSub = path.join(root, 'with-sub');
      gitIn(root, 'clone', '-q', path.join(root, 'app.git'), withSub);
      gitIn(
        withSub,
        '-c',
        'protocol.file.allow=always',
        'submodule',
        'add',
        '-q',
        path.join(root, 'lib.git'),
        'vendor/lib',
      );
      // The get fetches the submodule from the server, with the source's credentials.
      gitIn(withSub, 'config', '-f', '.gitmodules', 'submodule.vendor/lib.url', http.url('lib.git'));
      gitIn(withSub, 'commit', '-q', '-am', 'add lib');
      gitIn(withSub, 'push', '-q', path.join(root, 'app.git'), 'HEAD:refs/heads/with-sub');
    })());

  it('fetches submodules unless submodules is none', async () => {
    await branchWithSubmodule();
    await get(httpSource({ branch: 'with-sub' }), {});
    expect(await readFile(path.join(dir, 'vendor/lib/lib.txt'), 'utf8')).toBe('lib\n');
    await rm(dir, { recursive: true });
    await mkdir(dir);
    await get(httpSource({ branch: 'with-sub' }), { submodules: 'none' });
    await expect(readFile(path.join(dir, 'vendor/lib/lib.txt'), 'utf8')).rejects.toThrow(/ENOENT/);
  });

  it('fetches only the submodules a list names', async () => {
    await branchWithSubmodule();
    await get(httpSource({ branch: 'with-sub' }), { submodules: ['vendor/lib'] });
    expect(await readFile(path.join(dir, 'vendor/lib/lib.txt'), 'utf8')).toBe('lib\n');
    await rm(dir, { recursive: true });
    await mkdir(dir);
    expect(await failure(get(httpSource({ branch: 'with-sub' }), { submodules: ['vendor/other'] }))).toMatch(
      /pathspec 'vendor\/other' did not match/,
    );
  });

  it('refuses a certificate it cannot verify over HTTPS, unless skip_ssl_verification', async () => {
    const https = await startGitHttpServer(root, USER, PASSWORD, await selfSignedCert(root, 'https'));
    try {
      const source = { uri: https.url('app.git'), branch: 'main', username: USER, password: PASSWORD };
      expect(await failure(check(source))).toMatch(/git clone failed .*(certificate|SSL)/i);
      expect(await check({ ...source, skip_ssl_verification: true })).toEqual([{ ref: c.docs }]);
      await get({ ...source, skip_ssl_verification: true }, {}, { ref: c.deployB });
      expect(await readFile(path.join(dir, 'src/b.txt'), 'utf8')).toBe('deploy b\n');
    } finally {
      await https.close();
    }
  });

  it('applies git_config to the clone, and disable_git_lfs is accepted', async () => {
    await get(
      httpSource({ git_config: [{ name: 'core.bigFileThreshold', value: '10m' }] }),
      { disable_git_lfs: true },
      { ref: c.docs },
    );
    expect(gitIn(dir, 'config', 'core.bigFileThreshold')).toBe('10m');
  });
});

describe('put', () => {
  let remote: string;
  let source: Record<string, unknown>;

  beforeEach(async () => {
    remote = `put-${Math.random().toString(36).slice(2)}.git`;
    gitIn(root, 'clone', '-q', '--bare', path.join(root, 'app.git'), remote);
    source = { uri: http.url(remote), username: USER, password: PASSWORD, branch: 'main' };
    // The put's input: a checkout of the remote with one new commit, as a task would leave it.
    gitIn(dir, 'clone', '-q', path.join(root, remote), 'repo');
    await writeFile(path.join(dir, 'repo', 'built.txt'), 'built\n');
    gitIn(path.join(dir, 'repo'), 'add', '.');
    gitIn(path.join(dir, 'repo'), 'commit', '-q', '-m', 'built');
    await writeFile(path.join(dir, 'version'), '2.0.0\n');
    await writeFile(path.join(dir, 'annotation'), 'release 2.0.0\n');
    await writeFile(path.join(dir, 'notes'), 'built by outpost\n');
  });

  const put = (params: Record<string, unknown>, src = source) => git(context('put', { source: src, params }));
  const onRemote = (...args: string[]) => gitIn(path.join(root, remote), ...args);
  /** Moves the remote's main on by one commit the put's repository does not have. */
  function advanceRemote(): string {
    const other = path.join(root, `${remote}-${Math.random().toString(36).slice(2)}`);
    gitIn(root, 'clone', '-q', path.join(root, remote), other);
    gitIn(other, 'commit', '-q', '--allow-empty', '-m', 'meanwhile');
    gitIn(other, 'push', '-q', 'origin', 'main');
    return gitIn(other, 'rev-parse', 'HEAD');
  }

  it('pushes the commit and an annotated, prefixed tag with notes', async () => {
    const local = gitIn(path.join(dir, 'repo'), 'rev-parse', 'HEAD');
    const result = await put({
      repository: 'repo',
      tag: 'version',
      tag_prefix: 'v',
      annotate: 'annotation',
      notes: 'notes',
    });
    expect(result).toMatchObject({ version: { ref: local } });
    expect(onRemote('rev-parse', 'main')).toBe(local);
    expect(onRemote('cat-file', '-t', 'v2.0.0')).toBe('tag');
    expect(onRemote('tag', '-l', '--format=%(contents)', 'v2.0.0')).toBe('release 2.0.0');
    expect(onRemote('notes', 'show', local)).toBe('built by outpost');
    expect(log.join('\n')).not.toContain(PASSWORD);
  });

  it('refuses a push that is not a fast-forward, unless force', async () => {
    advanceRemote();
    expect(await failure(put({ repository: 'repo' }))).toBe(
      'push to main was rejected: it is not a fast-forward (set rebase, merge or force)',
    );
    const local = gitIn(path.join(dir, 'repo'), 'rev-parse', 'HEAD');
    await put({ repository: 'repo', force: true });
    expect(onRemote('rev-parse', 'main')).toBe(local);
  });

  it('rebases onto the remote with rebase', async () => {
    const meanwhile = advanceRemote();
    const rebased = (await put({ repository: 'repo', rebase: true })) as { version: { ref: string } };
    expect(onRemote('rev-parse', 'main')).toBe(rebased.version.ref);
    expect(onRemote('rev-parse', 'main~1')).toBe(meanwhile);
  });

  it('merges the remote in with merge, returning the unmerged commit when asked', async () => {
    const again = advanceRemote();
    const local = gitIn(path.join(dir, 'repo'), 'rev-parse', 'HEAD');
    const merged = await put({ repository: 'repo', merge: true, returning: 'unmerged' });
    expect(merged).toMatchObject({ version: { ref: local } });
    expect(onRemote('rev-list', '--parents', '-n', '1', 'main').split(' ').slice(1).sort()).toEqual(
      [again, local].sort(),
    );
  });

  it('only_tag pushes the tag and leaves the branch alone', async () => {
    const before = onRemote('rev-parse', 'main');
    await put({ repository: 'repo', tag: 'version', only_tag: true });
    expect(onRemote('rev-parse', 'main')).toBe(before);
    expect(onRemote('rev-parse', '2.0.0^{commit}')).toBe(gitIn(path.join(dir, 'repo'), 'rev-parse', 'HEAD'));
  });

  it('pushes over git:// (git daemon)', async () => {
    const local = gitIn(path.join(dir, 'repo'), 'rev-parse', 'HEAD');
    await put({ repository: 'repo' }, { uri: daemon.url(remote), branch: 'main' });
    expect(onRemote('rev-parse', 'main')).toBe(local);
  });

  it('names what is missing: branch, repository, the tag file', async () => {
    expect(await failure(put({ repository: 'repo' }, { uri: http.url(remote) }))).toBe(
      'source.branch is required to put (push) to a git repository',
    );
    expect(await failure(put({}))).toBe('params.repository is required: the path of the repository to push');
    expect(await failure(put({ repository: 'repo', tag: 'nope' }))).toBe('tag file "nope" does not exist');
    expect(await failure(put({ repository: '../elsewhere' }))).toMatch(/escapes the work dir/);
  });
});

describe('the host', () => {
  it('says so clearly when git is not installed', async () => {
    const saved = process.env.PATH;
    process.env.PATH = path.join(dir, 'empty-bin');
    try {
      expect(await failure(check({ uri: daemon.url('app.git') }))).toBe(
        'git is not installed on this agent\'s host (no "git" on PATH): the built-in git resource runs the host\'s git',
      );
    } finally {
      process.env.PATH = saved;
    }
  });
});

const noSshd = sshdUnavailable();
// Under OUTPOST_REQUIRE_ALL=1 (CI) a machine that cannot start sshd fails instead of skipping.
if (noSshd && requireAll) throw new Error(requiredMessage(`the git-over-SSH tests cannot run: ${noSshd}`));
if (noSshd) console.warn(`skipping the git-over-SSH tests: ${noSshd}`);

describe.skipIf(noSshd !== undefined)('over SSH with a private key', () => {
  let sshd: TestSshd;
  let plain: { privateKey: string };
  let locked: { privateKey: string };
  const PASSPHRASE = 'key-Passphrase-77';

  beforeAll(async () => {
    const keys = await mkdtemp(path.join(os.tmpdir(), 'outpost-git-sshd-'));
    plain = makeKey(path.join(keys, 'plain'));
    locked = makeKey(path.join(keys, 'locked'), PASSPHRASE);
    const pubs = [
      await readFile(path.join(keys, 'plain.pub'), 'utf8'),
      await readFile(path.join(keys, 'locked.pub'), 'utf8'),
    ];
    sshd = await startSshd(keys, pubs);
    return async () => {
      await sshd.close();
      await rm(keys, { recursive: true, force: true });
    };
  });

  const sshSource = (extra: Record<string, unknown>) => ({
    uri: `ssh://127.0.0.1:${sshd.port}${path.join(root, 'app.git')}`,
    private_key_user: sshd.user,
    ...extra,
  });

  it('checks and gets with private_key and private_key_user', async () => {
    expect(await check(sshSource({ private_key: plain.privateKey }))).toEqual([{ ref: c.docs }]);
    await git(
      context('get', {
        source: sshSource({ private_key: plain.privateKey }),
        params: {},
        version: { ref: c.featureA },
      }),
    );
    expect(gitIn(dir, 'rev-parse', 'HEAD')).toBe(c.featureA);
    expect(log.join('\n')).not.toContain(plain.privateKey.split('\n')[1]);
  });

  it('unlocks a key with private_key_passphrase, and fails clearly without it', async () => {
    expect(
      await check(sshSource({ private_key: locked.privateKey, private_key_passphrase: PASSPHRASE })),
    ).toEqual([{ ref: c.docs }]);
    expect(await failure(check(sshSource({ private_key: locked.privateKey })))).toMatch(
      /^git clone failed \(exit 128\): fatal: Could not read from remote repository/,
    );
    expect(log.join('\n')).not.toContain(PASSPHRASE);
  });
});
