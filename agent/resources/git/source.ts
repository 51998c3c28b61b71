// The git resource's source, get params and put params, decoded from the request with clear errors
// (a key of the wrong type names the key). Keys of Concourse's git-resource that Outpost does not
// implement are refused by name, so a pipeline never silently loses a setting.

import { ResourceFailure } from '../builtin.js';
import { Fields } from '../fields.js';

export interface GitSource {
  uri: string;
  branch: string | undefined;
  paths: string[];
  ignorePaths: string[];
  tagFilter: string | undefined;
  tagRegex: string | undefined;
  fetchTags: boolean | undefined;
  commitFilter: { include: string[]; includeAll: boolean; exclude: string[]; excludeAll: boolean };
  disableCiSkip: boolean;
  versionDepth: number;
  username: string | undefined;
  password: string | undefined;
  privateKey: string | undefined;
  privateKeyUser: string | undefined;
  privateKeyPassphrase: string | undefined;
  gitConfig: { name: string; value: string }[];
  skipSslVerification: boolean;
}

export interface GetParams {
  depth: number;
  /** 'all', 'none' or the paths to fetch. */
  submodules: 'all' | 'none' | string[];
  submoduleRecursive: boolean;
  submoduleRemote: boolean;
  disableGitLfs: boolean;
  cleanTags: boolean;
  fetchTags: boolean | undefined;
  shortRefFormat: string;
}

export interface PutParams {
  repository: string;
  rebase: boolean;
  merge: boolean;
  returning: 'merged' | 'unmerged';
  tag: string | undefined;
  tagPrefix: string;
  onlyTag: boolean;
  force: boolean;
  annotate: string | undefined;
  notes: string | undefined;
}

const UNSUPPORTED_SOURCE = [
  'forward_agent',
  'commit_verification_keys',
  'commit_verification_key_ids',
  'gpg_keyserver',
  'git_crypt_key',
  'git_crypt_gpg_key',
  'https_tunnel',
  'submodule_credentials',
  'search_remote_refs',
  'tag_behaviour',
  'sparse_paths',
  // git's traces would print the Authorization header.
  'debug',
];
const SOURCE_KEYS = [
  'uri',
  'branch',
  'paths',
  'ignore_paths',
  'tag_filter',
  'tag_regex',
  'fetch_tags',
  'commit_filter',
  'disable_ci_skip',
  'version_depth',
  'username',
  'password',
  'private_key',
  'private_key_user',
  'private_key_passphrase',
  'git_config',
  'skip_ssl_verification',
];

export function parseSource(raw: unknown): GitSource {
  const f = Fields.of(raw, 'source', 'git');
  f.refuseUnknown(SOURCE_KEYS, UNSUPPORTED_SOURCE);
  const uri = f.str('uri')?.trim();
  if (!uri) throw new ResourceFailure('source.uri is required and must not be empty');
  const tagFilter = f.str('tag_filter');
  const tagRegex = f.str('tag_regex');
  if (tagFilter !== undefined && tagRegex !== undefined)
    throw new ResourceFailure('Cannot provide both tag_filter and tag_regex');
  const versionDepth = f.int('version_depth') ?? 1;
  if (versionDepth <= 0) throw new ResourceFailure('source.version_depth must be a positive integer');
  const filter = f.fields('commit_filter');
  filter.refuseUnknown(['include', 'include_all_match', 'exclude', 'exclude_all_match']);
  const rawConfig = f.raw('git_config') ?? [];
  if (!Array.isArray(rawConfig))
    throw new ResourceFailure('source.git_config must be a list of {name, value}');
  const gitConfig = rawConfig.map((entry, i) => {
    const e = Fields.of(entry, `source.git_config[${i}]`, 'git');
    const name = e.str('name');
    const value = e.raw('value');
    if (
      name === undefined ||
      (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean')
    )
      throw new ResourceFailure(`source.git_config[${i}] must be {name, value} with a non-empty name`);
    return { name, value: String(value) };
  });
  const username = f.str('username');
  const password = f.str('password');
  return {
    uri,
    branch: f.str('branch')?.trim(),
    paths: f.strings('paths'),
    ignorePaths: f.strings('ignore_paths'),
    tagFilter,
    tagRegex,
    fetchTags: f.bool('fetch_tags'),
    commitFilter: {
      include: filter.strings('include'),
      includeAll: filter.bool('include_all_match') ?? false,
      exclude: filter.strings('exclude'),
      excludeAll: filter.bool('exclude_all_match') ?? false,
    },
    disableCiSkip: f.bool('disable_ci_skip') ?? false,
    versionDepth,
    // As git-resource, credentials count only as a pair.
    username: username !== undefined && password !== undefined ? username : undefined,
    password: username !== undefined && password !== undefined ? password : undefined,
    privateKey: f.str('private_key'),
    privateKeyUser: f.str('private_key_user'),
    privateKeyPassphrase: f.str('private_key_passphrase'),
    gitConfig,
    skipSslVerification: f.bool('skip_ssl_verification') ?? false,
  };
}

export function parseGetParams(raw: unknown): GetParams {
  const f = Fields.of(raw, 'params', 'git');
  f.refuseUnknown(
    [
      'depth',
      'submodules',
      'submodule_recursive',
      'submodule_remote',
      'disable_git_lfs',
      'clean_tags',
      'fetch_tags',
      'short_ref_format',
    ],
    ['sparse_paths', 'all_branches', 'describe_ref_options', 'timestamp_format', 'override_branch'],
  );
  const sub = f.raw('submodules');
  let submodules: GetParams['submodules'] = 'all';
  if (sub === 'none' || sub === 'all') submodules = sub;
  else if (sub !== undefined) submodules = f.strings('submodules');
  const shortRefFormat = f.str('short_ref_format') ?? '%s';
  return {
    depth: Math.max(0, f.int('depth') ?? 0),
    submodules,
    submoduleRecursive: f.bool('submodule_recursive') ?? true,
    submoduleRemote: f.bool('submodule_remote') ?? false,
    disableGitLfs: f.bool('disable_git_lfs') ?? false,
    cleanTags: f.bool('clean_tags') ?? false,
    fetchTags: f.bool('fetch_tags'),
    shortRefFormat,
  };
}

export function parsePutParams(raw: unknown): PutParams {
  const f = Fields.of(raw, 'params', 'git');
  f.refuseUnknown(
    [
      'repository',
      'rebase',
      'merge',
      'returning',
      'tag',
      'tag_prefix',
      'only_tag',
      'force',
      'annotate',
      'notes',
    ],
    ['branch', 'refs_prefix', 'push_options', 'rebase_strategy', 'rebase_strategy_option', 'override_branch'],
  );
  const repository = f.str('repository');
  if (repository === undefined)
    throw new ResourceFailure('params.repository is required: the path of the repository to push');
  const rebase = f.bool('rebase') ?? false;
  const merge = f.bool('merge') ?? false;
  if (rebase && merge) throw new ResourceFailure('Cannot set both params.rebase and params.merge');
  const returning = f.str('returning') ?? 'merged';
  if (returning !== 'merged' && returning !== 'unmerged')
    throw new ResourceFailure('params.returning must be "merged" or "unmerged"');
  return {
    repository,
    rebase,
    merge,
    returning,
    tag: f.str('tag'),
    tagPrefix: f.str('tag_prefix') ?? '',
    onlyTag: f.bool('only_tag') ?? false,
    force: f.bool('force') ?? false,
    annotate: f.str('annotate'),
    notes: f.str('notes'),
  };
}
