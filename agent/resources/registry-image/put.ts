// registry-image's put, as concourse/registry-image-resource's `out`: load the image at params.image
// (a glob matching one image tarball, OCI layout tarball or OCI layout directory), upload its blobs
// (content-addressed: a blob the registry has is not sent again) and manifests, then tag it with
// source.tag, params.version (+ variant, and the bumped aliases), and each of additional_tags.

import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { unpack } from '../../artifacts/archive.js';
import { inside, ResourceFailure } from '../builtin.js';
import type { RegistryClient } from './client.js';
import type { PushPlan } from './blobs.js';
import { readTarball } from './image-tarball.js';
import { readLayout } from './oci-layout.js';
import { parseVersion, versionTag } from './semver-tags.js';
import type { ImagePutParams, ImageSource } from './source.js';

export async function put(
  client: RegistryClient,
  dir: string,
  source: ImageSource,
  params: ImagePutParams,
  log: (line: string) => void,
): Promise<unknown> {
  const tags: string[] = [];
  if (source.tag !== undefined) tags.push(source.tag);
  if (params.version !== undefined) {
    const version = versionTag(params.version, source.variant);
    tags.push(version.push);
    if (params.bumpAliases && version.prerelease === '')
      tags.push(...(await aliases(client, version.normal, source.variant)));
  }
  const extra = params.additionalTags === undefined ? [] : await additionalTags(dir, params.additionalTags);
  if (extra.length === 0 && params.tagPrefix !== '')
    throw new ResourceFailure('tag_prefix can only be used when additional_tags are specified');
  tags.push(...extra.map((t) => `${params.tagPrefix}${t}`));
  if (tags.length === 0)
    throw new ResourceFailure("no tag specified - need either 'version:' in params or 'tag:' in source");
  for (const tag of tags)
    if (!/^[\w][\w.-]{0,127}$/.test(tag))
      throw new ResourceFailure(`${JSON.stringify(tag)} is not a valid tag`);

  const image = await glob(dir, params.image);
  const digest = await pushImage(client, image, params.image, tags, (root) =>
    log(`pushing ${source.repositoryText}@${root} as ${tags.join(', ')}`),
  );
  log('pushed');
  return {
    version: { tag: tags[0] ?? '', digest },
    metadata: [
      { name: 'repository', value: source.repositoryText },
      { name: 'tags', value: tags.join(' ') },
    ],
  };
}

/**
 * Pushes the image at `file` (an image tarball, OCI layout tarball or OCI layout directory; `what` names
 * it in errors) as each of `tags`: its blobs (those the registry lacks), manifests, then the tags.
 * Returns its digest (an index's, for a multi-platform image); `loaded` hears it before the upload.
 */
export async function pushImage(
  client: RegistryClient,
  file: string,
  what: string,
  tags: string[],
  loaded: (digest: string) => void = () => undefined,
): Promise<string> {
  const scratch = await mkdtemp(path.join(tmpdir(), 'outpost-push-'));
  try {
    const plan = await load(file, what, scratch);
    loaded(plan.root.digest);
    for (const blob of plan.blobs) await client.upload(blob.digest, blob.size, blob.file);
    for (const child of plan.children) await client.putManifest(child.digest, child);
    for (const tag of tags) await client.putManifest(tag, plan.root);
    return plan.root.digest;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** A directory is an OCI layout; a file is a tarball of an image or of an OCI layout. */
async function load(file: string, what: string, scratch: string): Promise<PushPlan> {
  if ((await stat(file)).isDirectory()) return readLayout(file, what);
  const unpacked = path.join(scratch, 'image');
  await unpack(file, unpacked).catch((err: unknown) => {
    throw new ResourceFailure(`${what} is not a tar archive: ${(err as Error).message}`);
  });
  if ((await readdir(unpacked)).includes('oci-layout')) return readLayout(unpacked, what);
  return readTarball(unpacked, path.join(scratch, 'layers'), what);
}

/** The whitespace-separated tags in the additional_tags file. */
async function additionalTags(dir: string, rel: string): Promise<string[]> {
  const file = inside(dir, rel, 'params.additional_tags');
  const text = await readFile(file, 'utf8').catch(() => {
    throw new ResourceFailure(`additional_tags file ${JSON.stringify(rel)} does not exist`);
  });
  return text.split(/\s+/).filter((t) => t !== '');
}

/** The aliases `1.2`, `1` and `latest` (or with the variant) that `version` is now the newest of. */
async function aliases(
  client: RegistryClient,
  normal: string,
  variant: string | undefined,
): Promise<string[]> {
  const [major, minor, patch] = normal.split('.').map(Number) as [number, number, number];
  let latest = true;
  let bumpMajor = true;
  let bumpMinor = true;
  for (const tag of await client.tags()) {
    let text = tag;
    if (variant !== undefined) {
      if (!tag.endsWith(`-${variant}`)) continue;
      text = tag.slice(0, -(variant.length + 1));
    }
    const v = parseVersion(text);
    if (!v || v.prerelease !== '') continue;
    const [ma, mi, pa] = v.normal.split('.').map(Number) as [number, number, number];
    if (ma > major || (ma === major && (mi > minor || (mi === minor && pa > patch)))) latest = false;
    if (ma === major && mi > minor) bumpMajor = false;
    if (ma === major && mi === minor && pa > patch) {
      bumpMinor = false;
      bumpMajor = false;
    }
  }
  const suffix = variant === undefined ? '' : `-${variant}`;
  const out: string[] = [];
  if (latest) out.push(variant ?? 'latest');
  if (bumpMajor) out.push(`${major}${suffix}`);
  if (bumpMinor) out.push(`${major}.${minor}${suffix}`);
  return out;
}

/** Go's filepath.Glob for `pattern` under `dir` (`*`, `?`, `[...]` within one path segment): one match. */
async function glob(dir: string, pattern: string): Promise<string> {
  let matches = [inside(dir, '.', 'params.image')];
  for (const segment of pattern.split('/').filter((s) => s !== '' && s !== '.')) {
    const next: string[] = [];
    for (const base of matches) {
      if (!/[*?[]/.test(segment)) {
        const at = inside(dir, path.relative(dir, path.join(base, segment)), 'params.image');
        if (await stat(at).catch(() => undefined)) next.push(at);
        continue;
      }
      const re = segmentRegex(segment);
      const names = await readdir(base).catch(() => [] as string[]);
      for (const name of names.sort()) if (re.test(name)) next.push(path.join(base, name));
    }
    matches = next;
  }
  if (matches.length === 0) throw new ResourceFailure(`no files match glob '${pattern}'`);
  if (matches.length > 1)
    throw new ResourceFailure(
      `too many files/directories match glob '${pattern}': ${matches.map((m) => path.relative(dir, m)).join(', ')}`,
    );
  return matches[0] ?? '';
}

function segmentRegex(segment: string): RegExp {
  let re = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i] ?? '';
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = segment.indexOf(']', i + 1);
      if (end < 0) throw new ResourceFailure(`params.image: bad glob pattern ${JSON.stringify(segment)}`);
      re += `[${segment.slice(i + 1, end)}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}
