// The registry-image resource's source, get params and put params, decoded with clear errors. Keys
// of Concourse's registry-image-resource that Outpost does not implement (cloud credentials, content
// trust, mirrors) are refused by name.

import { ResourceFailure } from '../builtin.js';
import { Fields } from '../fields.js';
import { parseRepository, type Repository } from './reference.js';

export interface Platform {
  os: string;
  architecture: string;
  variant: string | undefined;
}

export interface ImageSource {
  /** As written, for the `repository` file and metadata. */
  repositoryText: string;
  repository: Repository;
  tag: string | undefined;
  tagRegex: string | undefined;
  variant: string | undefined;
  semverConstraint: string | undefined;
  preReleases: boolean;
  preReleasePrefixes: string[];
  username: string | undefined;
  password: string | undefined;
  insecure: boolean;
  caCerts: string[];
  platform: Platform;
  labelRegex: RegExp | undefined;
}

export interface ImageGetParams {
  format: 'rootfs' | 'oci' | 'oci-layout';
  skipDownload: boolean;
  platform: Platform;
}

export interface ImagePutParams {
  image: string;
  version: string | undefined;
  bumpAliases: boolean;
  additionalTags: string | undefined;
  tagPrefix: string;
}

const TYPE = 'registry-image';
const UNSUPPORTED_SOURCE = [
  'aws_access_key_id',
  'aws_secret_access_key',
  'aws_session_token',
  'aws_region',
  'aws_role_arn',
  'aws_role_arns',
  'aws_account_id',
  'aws_ecr_registry_id',
  'azure_acr',
  'azure_client_id',
  'azure_tenant_id',
  'azure_environment',
  'registry_mirror',
  'content_trust',
  'created_at_sort',
  'annotation_regex',
];
const SOURCE_KEYS = [
  'repository',
  'tag',
  'tag_regex',
  'variant',
  'semver_constraint',
  'pre_releases',
  'pre_release_prefixes',
  'username',
  'password',
  'insecure',
  'ca_certs',
  'platform',
  'label_regex',
  'debug',
];

export function parseSource(raw: unknown): ImageSource {
  const f = Fields.of(raw, 'source', TYPE);
  f.refuseUnknown(SOURCE_KEYS, UNSUPPORTED_SOURCE);
  const repositoryText = f.str('repository')?.trim();
  if (!repositoryText) throw new ResourceFailure('source.repository is required and must not be empty');
  const insecure = f.bool('insecure') ?? false;
  const tag = f.text('tag');
  const tagRegex = f.str('tag_regex');
  const username = f.str('username');
  const password = f.str('password');
  const labelRegex = f.str('label_regex');
  return {
    repositoryText,
    repository: parseRepository(repositoryText, insecure),
    tag,
    tagRegex: tag === undefined ? tagRegex : undefined,
    variant: f.str('variant'),
    semverConstraint: f.str('semver_constraint'),
    preReleases: f.bool('pre_releases') ?? false,
    preReleasePrefixes: f.strings('pre_release_prefixes'),
    // As the original, credentials count only as a pair.
    username: username !== undefined && password !== undefined ? username : undefined,
    password: username !== undefined && password !== undefined ? password : undefined,
    insecure,
    caCerts: f.strings('ca_certs'),
    platform: platformOf(f, undefined),
    labelRegex: labelRegex === undefined ? undefined : regex(labelRegex, 'source.label_regex'),
  };
}

export function parseGetParams(raw: unknown, source: ImageSource): ImageGetParams {
  const f = Fields.of(raw, 'params', TYPE);
  f.refuseUnknown(['format', 'skip_download', 'platform']);
  const format = f.str('format') ?? 'rootfs';
  if (format !== 'rootfs' && format !== 'oci' && format !== 'oci-layout')
    throw new ResourceFailure(
      `unknown format provided, must be one of 'rootfs', 'oci', 'oci-layout': ${JSON.stringify(format)}`,
    );
  return {
    format,
    skipDownload: f.bool('skip_download') ?? false,
    platform: f.raw('platform') === undefined ? source.platform : platformOf(f, source.platform),
  };
}

export function parsePutParams(raw: unknown): ImagePutParams {
  const f = Fields.of(raw, 'params', TYPE);
  f.refuseUnknown(['image', 'version', 'bump_aliases', 'additional_tags', 'tag_prefix']);
  const image = f.str('image');
  if (image === undefined)
    throw new ResourceFailure(
      'params.image is required: the path of the image tarball or OCI layout to push',
    );
  return {
    image,
    version: f.text('version'),
    bumpAliases: f.bool('bump_aliases') ?? false,
    additionalTags: f.str('additional_tags'),
    tagPrefix: f.str('tag_prefix') ?? '',
  };
}

/** `platform: {os, architecture}` (architecture may be `arm64/v8`); default: linux on this host's. */
function platformOf(f: Fields, fallback: Platform | undefined): Platform {
  const p = f.fields('platform');
  p.refuseUnknown(['os', 'architecture']);
  const [arch, variant] = (p.str('architecture') ?? '').split('/');
  return {
    // The original runs in a Linux container, so its default OS is linux on every host; so is ours.
    os: p.str('os') ?? fallback?.os ?? 'linux',
    architecture: arch || (fallback?.architecture ?? hostArch()),
    variant: arch ? variant : fallback?.variant,
  };
}

/** Go's GOARCH name for this host's architecture, the original's default. */
function hostArch(): string {
  const names: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm' };
  return names[process.arch] ?? process.arch;
}

export function regex(text: string, key: string): RegExp {
  try {
    return new RegExp(text);
  } catch (err) {
    throw new ResourceFailure(`${key} is not a valid regular expression: ${(err as Error).message}`);
  }
}
