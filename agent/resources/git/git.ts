// The built-in `git` type: Concourse's concourse/git-resource run with the host's git. check lists
// the commits (or tags) since the given version, oldest first, or only the latest ones on a first
// check; get clones at the version and writes git-resource's .git/ref, short_ref, commit_message...
// files; put tags, pushes, and merges or rebases when the push is not a fast-forward.

import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type BuiltinContext, inside, ResourceFailure } from '../builtin.js';
import { isPlainObject } from '../protocol.js';
import { GitSession, reason } from './git-cli.js';
import {
  type GetParams,
  type GitSource,
  parseGetParams,
  parsePutParams,
  parseSource,
  type PutParams,
} from './source.js';

type Version = Record<string, string>;
interface Metadata {
  name: string;
  value: string;
}

export async function git(ctx: BuiltinContext): Promise<unknown> {
  const request = JSON.parse(ctx.requestJson) as { source?: unknown; params?: unknown; version?: unknown };
  const source = parseSource(request.source);
  const version = isPlainObject(request.version) ? (request.version as Version) : undefined;
  const session = await GitSession.open(source, (line) => ctx.log(line), ctx.signal);
  try {
    switch (ctx.kind) {
      case 'check':
        return await check(session, source, version?.ref);
      case 'get':
        return await get(session, ctx.dir, source, parseGetParams(request.params), version?.ref);
      case 'put':
        return await put(session, ctx.dir, source, parsePutParams(request.params), (line) => ctx.log(line));
    }
  } finally {
    await session.dispose();
  }
}

// --- check ---

async function check(git: GitSession, source: GitSource, ref: string | undefined): Promise<Version[]> {
  const repo = path.join(git.home, 'repo.git');
  const byTag = source.tagFilter !== undefined || source.tagRegex !== undefined;
  const byPath = source.paths.length > 0 || source.ignorePaths.length > 0;
  // Commits only (and trees when paths matter): check never needs file contents.
  const clone = ['clone', '--bare', '--quiet', byPath ? '--filter=blob:none' : '--filter=tree:0'];
  if (!byTag) clone.push('--single-branch', '--no-tags');
  else clone.push('--tags');
  if (source.branch) clone.push('--branch', source.branch);
  await git.must([...clone, '--', source.uri, repo], { env: { GIT_LFS_SKIP_SMUDGE: '1' } });
  const head = source.branch ? `refs/heads/${source.branch}` : 'HEAD';
  const run = (args: string[], input?: string) => git.must(args, { cwd: repo, input });

  const known =
    ref !== undefined && (await git.run(['cat-file', '-e', `${ref}^{commit}`], { cwd: repo })).code === 0;
  let range = [head];
  if (known) {
    const roots = lines(await run(['rev-list', '--max-parents=0', head]));
    const commit = (await run(['rev-list', '-n', '1', ref])).trim();
    if (!roots.includes(commit)) range = [`${ref}~1..${head}`];
  }
  const pathspec = byPath
    ? ['--', ...(source.paths.length > 0 ? source.paths : ['.']), ...source.ignorePaths.map((p) => `:!${p}`)]
    : [];
  let commits = lines(await run(['rev-list', '--first-parent', ...range, ...pathspec]));
  commits = await grepFilter(run, commits, source);

  if (byTag) return checkTags(run, commits, source, head, known ? ref : undefined);
  // A first check (or one from a version that is gone) reports only the latest commits.
  const chosen = known ? commits : commits.slice(0, source.versionDepth);
  return chosen.reverse().map((c) => ({ ref: c }));
}

/** Keeps the commits whose messages pass commit_filter and the [ci skip] rule, in order. */
async function grepFilter(
  run: (args: string[], input?: string) => Promise<string>,
  commits: string[],
  source: GitSource,
): Promise<string[]> {
  const { include, includeAll, exclude, excludeAll } = source.commitFilter;
  const passes: string[][] = [];
  if (include.length > 0)
    passes.push([...include.map((g) => `--grep=${g}`), ...(includeAll ? ['--all-match'] : [])]);
  if (exclude.length > 0)
    passes.push([
      '--invert-grep',
      ...exclude.map((g) => `--grep=${g}`),
      ...(excludeAll ? ['--all-match'] : []),
    ]);
  if (!source.disableCiSkip)
    passes.push(['--invert-grep', '--grep=\\[ci\\sskip\\]', '--grep=\\[skip\\sci\\]']);
  for (const pass of passes) {
    if (commits.length === 0) break;
    commits = lines(
      await run(['rev-list', '--stdin', '--no-walk=unsorted', ...pass], `${commits.join('\n')}\n`),
    );
  }
  return commits;
}

/** The tags matching tag_filter/tag_regex on the branch whose commits passed the filters. */
async function checkTags(
  run: (args: string[]) => Promise<string>,
  commits: string[],
  source: GitSource,
  head: string,
  ref: string | undefined,
): Promise<Version[]> {
  const args = ['tag', '--sort=creatordate'];
  if (ref !== undefined && source.branch) args.push('--contains', ref);
  if (source.branch) args.push('--merged', head);
  if (source.tagFilter !== undefined) args.push('--list', source.tagFilter);
  let tags = lines(await run(args));
  if (source.tagRegex !== undefined) {
    let regex: RegExp;
    try {
      regex = new RegExp(`^(?:${source.tagRegex})$`);
    } catch (err) {
      throw new ResourceFailure(
        `source.tag_regex is not a valid regular expression: ${(err as Error).message}`,
      );
    }
    tags = tags.filter((t) => regex.test(t));
  }
  if (ref !== undefined && !source.branch) tags = tags.slice(Math.max(0, tags.indexOf(ref)));
  const passed = new Set(commits);
  const versions: Version[] = [];
  for (const tag of tags) {
    const commit = (await run(['rev-list', '-n', '1', tag])).trim();
    if (passed.has(commit)) versions.push({ ref: tag, commit });
  }
  return versions.slice(-source.versionDepth);
}

// --- get ---

async function get(
  git: GitSession,
  dest: string,
  source: GitSource,
  params: GetParams,
  ref: string | undefined,
): Promise<unknown> {
  const fetchTags = params.fetchTags ?? source.fetchTags;
  const tagFlag =
    fetchTags === false
      ? ['--no-tags']
      : source.tagFilter !== undefined || source.tagRegex !== undefined || fetchTags === true
        ? ['--tags']
        : [];
  const env: Record<string, string> = params.disableGitLfs ? { GIT_LFS_SKIP_SMUDGE: '1' } : {};
  const clone = ['clone', '--progress', '--single-branch'];
  if (params.depth > 0) clone.push('--depth', String(params.depth));
  if (source.branch) clone.push('--branch', source.branch);
  await git.must([...clone, ...tagFlag, '--', source.uri, dest], { env });
  const run = (args: string[], opts: { env?: Record<string, string> } = {}) =>
    git.must(args, { cwd: dest, env: { ...env, ...opts.env } });
  for (const { name, value } of source.gitConfig) await run(['config', name, value]);
  await run(['fetch', '--quiet', 'origin', 'refs/notes/*:refs/notes/*', ...tagFlag]);

  const wanted = ref ?? 'HEAD';
  if (params.depth > 0) await deepenUntilFound(git, dest, wanted, params.depth);
  await run(['checkout', '-f', '-q', wanted]);
  if (
    params.submodules !== 'none' &&
    // Looked for, not asked of git: `git config --file` would print "fatal" into the step's log.
    (await stat(path.join(dest, '.gitmodules')).catch(() => undefined))?.isFile()
  ) {
    const update = ['submodule', 'update', '--init'];
    if (params.submoduleRecursive) update.push('--recursive');
    if (params.submoduleRemote) update.push('--remote');
    if (params.depth > 0) update.push('--depth', String(params.depth));
    await run([...update, '--', ...(params.submodules === 'all' ? [] : params.submodules)]);
  }

  const returnRef = wanted === 'HEAD' ? (await run(['rev-parse', 'HEAD'])).trim() : wanted;
  const metadata = await metadataOf(run);
  const dotGit = (name: string) => path.join(dest, '.git', name);
  const log1 = async (format: string) => run(['--no-pager', 'log', '-1', `--format=format:${format}`]);
  await writeFile(dotGit('ref'), `${returnRef}\n`);
  await writeFile(dotGit('short_ref'), params.shortRefFormat.replaceAll('%s', returnRef.slice(0, 7)));
  await writeFile(dotGit('commit_message'), await log1('%B'));
  await writeFile(dotGit('committer'), await log1('%ae'));
  await writeFile(dotGit('committer_name'), await log1('%an'));
  await writeFile(dotGit('metadata.json'), `${JSON.stringify(metadata, null, 2)}\n`);
  for (const name of ['commit', 'author', 'author_date', 'committer_date', 'branch', 'tags'])
    await writeFile(dotGit(name), `${metadata.find((m) => m.name === name)?.value ?? ''}\n`);
  const describe = await git.run(['describe', '--always', '--dirty', '--broken'], { cwd: dest });
  await writeFile(dotGit('describe_ref'), describe.stdout);
  if (params.cleanTags) {
    const tags = lines(await run(['tag', '--list']));
    if (tags.length > 0) await run(['tag', '-d', ...tags]);
  }
  return { version: { ref: returnRef }, metadata };
}

/** A shallow clone may not reach `ref` (newer commits pushed it out): fetch deeper until it does. */
async function deepenUntilFound(git: GitSession, dir: string, ref: string, depth: number): Promise<void> {
  const found = async () => (await git.run(['cat-file', '-e', `${ref}^{commit}`], { cwd: dir })).code === 0;
  while (!(await found())) {
    const shallow =
      (await git.must(['rev-parse', '--is-shallow-repository'], { cwd: dir })).trim() === 'true';
    if (!shallow) throw new ResourceFailure(`version ${ref} is not in the repository's history`);
    depth *= 2;
    await git.must(['fetch', '--quiet', `--depth=${depth}`, 'origin'], { cwd: dir });
  }
}

/** Concourse's metadata for HEAD: commit, author, dates, committer, branch, tags, message. */
async function metadataOf(run: (args: string[]) => Promise<string>): Promise<Metadata[]> {
  const [commit, author, authorDate, committer, committerDate] = (
    await run(['--no-pager', 'log', '-1', '--format=format:%H%x00%an%x00%ai%x00%cn%x00%ci'])
  ).split('\0');
  const message = (await run(['--no-pager', 'log', '-1', '--format=format:%B'])).slice(0, 10240);
  const metadata: Metadata[] = [
    { name: 'commit', value: commit ?? '' },
    { name: 'author', value: author ?? '' },
    { name: 'author_date', value: authorDate ?? '' },
    { name: 'committer', value: committer ?? '' },
    { name: 'committer_date', value: committerDate ?? '' },
  ];
  const branches = lines(
    await run([
      'for-each-ref',
      `--points-at=${commit ?? 'HEAD'}`,
      '--format=%(refname:lstrip=2)',
      'refs/heads',
    ]),
  );
  if (branches.length > 0) metadata.push({ name: 'branch', value: branches.join(',') });
  const tags = lines(await run(['tag', '--points-at', 'HEAD']));
  if (tags.length > 0) metadata.push({ name: 'tags', value: tags.join(',') });
  metadata.push({ name: 'message', value: message });
  return metadata;
}

// --- put ---

async function put(
  git: GitSession,
  dir: string,
  source: GitSource,
  params: PutParams,
  log: (line: string) => void,
): Promise<unknown> {
  const repo = inside(dir, params.repository, 'params.repository');
  if (!source.branch && !params.onlyTag)
    throw new ResourceFailure('source.branch is required to put (push) to a git repository');
  const tagName =
    params.tag === undefined
      ? undefined
      : `${params.tagPrefix}${(await readParamFile(dir, params.tag, 'tag')).trim()}`;
  const annotate =
    params.annotate === undefined ? [] : ['-a', '-F', inside(dir, params.annotate, 'params.annotate')];
  if (params.annotate !== undefined) await readParamFile(dir, params.annotate, 'annotate');
  const notes = params.notes === undefined ? undefined : inside(dir, params.notes, 'params.notes');
  if (params.notes !== undefined) await readParamFile(dir, params.notes, 'notes');

  const run = (args: string[]) => git.must(args, { cwd: repo });
  const force = params.force ? ['--force'] : [];
  const branch = source.branch ?? '';
  const remotes = lines(await run(['remote']));
  await run(
    remotes.includes('push-target')
      ? ['remote', 'set-url', 'push-target', source.uri]
      : ['remote', 'add', 'push-target', source.uri],
  );
  const toPush = (await run(['rev-parse', 'HEAD'])).trim();

  const tag = async () => {
    if (tagName !== undefined) await run(['tag', '-f', tagName, ...annotate]);
  };
  /** Tags, pushes and adds notes; false when the push was rejected as not a fast-forward. */
  const attempt = async (): Promise<boolean> => {
    await tag();
    const pushed = await git.run(['push', '--tags', 'push-target', `HEAD:refs/heads/${branch}`, ...force], {
      cwd: repo,
    });
    if (pushed.code !== 0) {
      if (/\[rejected\]|\[remote rejected\].*cannot lock ref/.test(pushed.stderr)) return false;
      throw new ResourceFailure(
        git.redact(`git push failed (exit ${pushed.code}): ${reason(pushed.stderr)}`),
      );
    }
    if (notes !== undefined) {
      await run(['notes', 'add', '-f', '-F', notes]);
      await run(['push', 'push-target', 'refs/notes/*']);
    }
    return true;
  };

  if (params.onlyTag) {
    await tag();
    await run(['push', '--tags', 'push-target', ...force]);
  } else if (params.merge || params.rebase) {
    // As git-resource: merge (or rebase onto) what the remote has, and try again until the push lands.
    for (;;) {
      if (params.merge) await run(['reset', '--hard', toPush]);
      await run(['fetch', 'push-target', 'refs/notes/*:refs/notes/*']);
      await run(
        params.merge
          ? ['pull', '--no-rebase', '--no-edit', 'push-target', branch]
          : ['pull', '--rebase=merges', 'push-target', branch],
      );
      if (await attempt()) break;
      log(params.merge ? 'merging and trying again...' : 'rebasing and trying again...');
    }
  } else if (!(await attempt())) {
    throw new ResourceFailure(
      `push to ${branch} was rejected: it is not a fast-forward (set rebase, merge or force)`,
    );
  }
  const ref =
    params.merge && params.returning === 'unmerged' ? toPush : (await run(['rev-parse', 'HEAD'])).trim();
  return { version: { ref }, metadata: await metadataOf(run) };
}

async function readParamFile(dir: string, rel: string, key: string): Promise<string> {
  try {
    return await readFile(inside(dir, rel, `params.${key}`), 'utf8');
  } catch (err) {
    if (err instanceof ResourceFailure) throw err;
    throw new ResourceFailure(`${key} file ${JSON.stringify(rel)} does not exist`);
  }
}

function lines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
}
