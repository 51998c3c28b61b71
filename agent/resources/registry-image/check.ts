// registry-image's check, as concourse/registry-image-resource's: with `tag`, the digest the tag
// points to (and the given version first while the registry still has it); with `tag_regex`, every
// matching tag in the registry's order; otherwise the semver tags (with `variant`,
// `semver_constraint`, `pre_releases`), each digest once under its most specific tag, oldest first,
// then `latest` (or the variant's bare tag) when it points to no version.

import type { RegistryClient } from './client.js';
import { compare, parseConstraint, parseVersion, type TagVersion } from './semver-tags.js';
import { regex, type ImageSource } from './source.js';

export interface ImageVersion {
  tag: string;
  digest: string;
  [key: string]: string;
}

export async function check(
  client: RegistryClient,
  source: ImageSource,
  from: ImageVersion | undefined,
): Promise<ImageVersion[]> {
  if (source.tag !== undefined) return checkTag(client, source.tag, from);
  if (source.tagRegex !== undefined) {
    const re = regex(source.tagRegex, 'source.tag_regex');
    const versions: ImageVersion[] = [];
    for (const tag of (await client.tags()).filter((t) => re.test(t))) {
      const digest = await client.resolve(tag);
      if (digest) versions.push({ tag, digest });
    }
    return versions;
  }
  return checkSemver(client, source, from);
}

async function checkTag(
  client: RegistryClient,
  tag: string,
  from: ImageVersion | undefined,
): Promise<ImageVersion[]> {
  const digest = await client.resolve(tag);
  if (!digest) return [];
  const versions: ImageVersion[] = [];
  if (from?.digest && from.digest !== digest && (await client.resolve(from.digest)))
    versions.push({ tag, digest: from.digest });
  versions.push({ tag, digest });
  return versions;
}

async function checkSemver(
  client: RegistryClient,
  source: ImageSource,
  from: ImageVersion | undefined,
): Promise<ImageVersion[]> {
  const bareTag = source.variant ?? 'latest';
  const constraint = source.semverConstraint ? parseConstraint(source.semverConstraint) : undefined;
  const tags = await client.tags();
  // The given version first: when it is still there, only newer versions need their digests read.
  if (from) tags.sort((a, b) => Number(b === from.tag) - Number(a === from.tag));

  const byDigest = new Map<string, TagVersion>();
  let latest: { tag: string; digest: string } | undefined;
  let cursor: TagVersion | undefined;
  for (const tag of tags) {
    let version: TagVersion | undefined;
    if (tag !== bareTag) {
      version = candidate(tag, source, constraint);
      if (!version) continue;
      if (cursor && compare(cursor, version) >= 0) continue;
    }
    const digest = await client.resolve(tag);
    if (!digest) continue;
    if (!version) {
      latest = { tag, digest };
      continue;
    }
    const existing = byDigest.get(digest);
    if (!existing || preferred(version, existing)) byDigest.set(digest, version);
    if (from && tag === from.tag && digest === from.digest) cursor = version;
  }

  const versions = [...byDigest.entries()]
    .sort(([, a], [, b]) => compare(a, b))
    .map(([digest, v]) => ({ tag: v.tag, digest }));
  if (latest && !byDigest.has(latest.digest) && !constraint) versions.push(latest);
  return versions;
}

/** The tag's version when it counts: the right variant, within the constraint, a real pre-release. */
function candidate(
  tag: string,
  source: ImageSource,
  constraint: ((v: TagVersion) => boolean) | undefined,
): TagVersion | undefined {
  let text = tag;
  if (source.variant !== undefined) {
    if (!tag.endsWith(`-${source.variant}`)) return undefined;
    text = tag.slice(0, -(source.variant.length + 1));
  }
  const parsed = parseVersion(text);
  if (!parsed) return undefined;
  const version = { ...parsed, tag };
  if (constraint && !constraint(version)) return undefined;
  const pre = version.prerelease;
  if (pre === '') return version;
  if (!source.preReleases) return undefined;
  // `1.2.3-alpine` is a variant, not a pre-release: only alpha, beta, rc (and the configured
  // prefixes) are pre-releases, and without configured prefixes a second `-` is a variant too.
  if (source.preReleasePrefixes.length === 0 && pre.includes('-')) return undefined;
  const prefixes = ['alpha', 'beta', 'rc', ...source.preReleasePrefixes];
  return prefixes.some((p) => pre.startsWith(p)) ? version : undefined;
}

/** Which tag names a digest: a final version over a pre-release, then the more specific tag. */
function preferred(candidate: TagVersion, existing: TagVersion): boolean {
  if (existing.prerelease === '' && candidate.prerelease !== '') return false;
  if (existing.prerelease !== '' && candidate.prerelease === '') return true;
  return candidate.dots > existing.dots;
}
