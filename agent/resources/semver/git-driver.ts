// semver-resource's git driver: the version lives in `file` on `branch` of the repository at `uri`.
// Each read is a fresh clone into the step's private git home (credentials as the git resource
// handles them: askpass from the environment, a 0600 key, redacted output); a write commits the file
// and pushes, and a bump whose push is rejected starts again from a fresh clone, three times at most.

import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ResourceFailure } from '../builtin.js';
import type { Fields } from '../fields.js';
import { GitSession } from '../git/git-cli.js';
import { parseSource } from '../git/source.js';
import { format, less, parseVersion, type Version } from './version.js';

const ATTEMPTS = 3;

export class GitVersionFile {
  private session: GitSession | undefined;
  private readonly uri: string;
  private readonly branch: string;
  private readonly file: string;
  private readonly commitMessage: string | undefined;
  private readonly gitSource;

  constructor(
    source: Fields,
    private readonly initial: Version,
    private readonly log: (line: string) => void,
    private readonly signal: AbortSignal,
  ) {
    const required = (key: string) => {
      const value = source.str(key);
      if (value === undefined) throw new ResourceFailure(`source.${key} is required by the git driver`);
      return value;
    };
    this.uri = required('uri');
    this.branch = required('branch');
    this.file = required('file');
    if (path.posix.isAbsolute(this.file) || this.file.split('/').includes('..'))
      throw new ResourceFailure(
        `source.file ${JSON.stringify(this.file)} must be a path inside the repository`,
      );
    this.commitMessage = source.str('commit_message');
    this.gitSource = parseSource({
      uri: this.uri,
      username: source.str('username'),
      password: source.str('password'),
      private_key: source.str('private_key'),
      skip_ssl_verification: source.bool('skip_ssl_verification'),
      git_config: identity(source.str('git_user')),
    });
  }

  /** The current version (initial_version when the file is not there), or every one since `cursor`. */
  async check(cursor: Version | undefined): Promise<Version[]> {
    const repo = await this.clone();
    const current = await this.read(repo);
    if (!current) return [this.initial];
    if (!cursor || !less(cursor, current)) return [current];
    // `fly check-resource --from`: walk the file's history back to the cursor.
    const git = await this.git();
    const commits = (await git.must(['log', '--pretty=format:%H', '--', this.file], { cwd: repo }))
      .split('\n')
      .filter((c) => c !== '');
    const versions = [current];
    for (const commit of commits.slice(1)) {
      const text = await git.must(['show', `${commit}:${this.file}`], { cwd: repo });
      const previous = parseVersion(text, `the version in ${this.file} at ${commit.slice(0, 7)}`);
      if (less(previous, cursor)) break;
      versions.push(previous);
    }
    return versions.reverse();
  }

  async set(version: Version): Promise<void> {
    await this.write(() => version);
  }

  async bump(apply: (current: Version) => Version): Promise<Version> {
    return this.write(apply);
  }

  async dispose(): Promise<void> {
    await this.session?.dispose();
  }

  private async write(next: (current: Version) => Version): Promise<Version> {
    for (let attempt = 1; ; attempt++) {
      const repo = await this.clone();
      const version = next((await this.read(repo)) ?? this.initial);
      if (await this.commitAndPush(repo, version)) return version;
      if (attempt >= ATTEMPTS)
        throw new ResourceFailure(
          `push to ${this.branch} was rejected ${ATTEMPTS} times: someone else keeps pushing`,
        );
      this.log(`push to ${this.branch} was rejected; trying again from a fresh clone`);
    }
  }

  private async commitAndPush(repo: string, version: Version): Promise<boolean> {
    const git = await this.git();
    const text = format(version);
    const at = path.join(repo, this.file);
    await mkdir(path.dirname(at), { recursive: true });
    await writeFile(at, `${text}\n`);
    await git.must(['add', '--', this.file], { cwd: repo });
    if ((await git.run(['diff', '--cached', '--quiet'], { cwd: repo })).code === 0) {
      this.log('Nothing to commit, skipping version push');
      return true;
    }
    const message = (this.commitMessage ?? 'bump to %version%')
      .replaceAll('%version%', text)
      .replaceAll('%file%', this.file);
    await git.must(['commit', '-q', '-m', message], { cwd: repo });
    const pushed = await git.run(['push', 'origin', `HEAD:refs/heads/${this.branch}`], { cwd: repo });
    if (pushed.code === 0) return true;
    if (/\[rejected\]|\[remote rejected\]|non-fast-forward|fetch first/.test(pushed.stderr)) return false;
    throw new ResourceFailure(git.redact(`git push failed (exit ${pushed.code}): ${pushed.stderr.trim()}`));
  }

  private async read(repo: string): Promise<Version | undefined> {
    const text = await readFile(path.join(repo, this.file), 'utf8').catch(() => undefined);
    if (text === undefined) return undefined;
    return parseVersion(text.split(/\s/)[0] ?? '', `the version in ${this.file}`);
  }

  /** A fresh shallow clone of the branch. */
  private async clone(): Promise<string> {
    const git = await this.git();
    const repo = path.join(git.home, 'repo');
    await rm(repo, { recursive: true, force: true });
    await git.must(['clone', '--quiet', '--single-branch', '--branch', this.branch, '--', this.uri, repo]);
    return repo;
  }

  private async git(): Promise<GitSession> {
    this.session ??= await GitSession.open(this.gitSource, this.log, this.signal);
    return this.session;
  }
}

/** git_user ("Name <email>" or "email") as the commit identity. */
function identity(gitUser: string | undefined): { name: string; value: string }[] | undefined {
  if (gitUser === undefined) return undefined;
  const match = /^\s*(?:"?([^"<]*?)"?\s*<([^>]+)>|([^\s<>]+@[^\s<>]+))\s*$/.exec(gitUser);
  if (!match)
    throw new ResourceFailure(
      `source.git_user ${JSON.stringify(gitUser)} is not an address like "Name <name@example.com>"`,
    );
  const email = match[2] ?? match[3] ?? '';
  const name = match[1]?.trim();
  return [...(name ? [{ name: 'user.name', value: name }] : []), { name: 'user.email', value: email }];
}
