// Image manifests and indexes as JSON, checked for the fields Outpost uses, and the choice of one
// platform's image from an index (as go-containerregistry's remote.WithPlatform).

import { ResourceFailure } from '../builtin.js';
import { type Descriptor, isIndex, type Manifest, parseJson, type RegistryClient } from './client.js';
import type { Platform } from './source.js';

export interface ImageManifest {
  config: Descriptor;
  layers: Descriptor[];
  annotations: Record<string, string>;
}

export function descriptorsOf(manifest: Manifest): Descriptor[] {
  const body = parseJson(manifest.bytes, `manifest ${manifest.digest}`);
  const list = isIndex(manifest.mediaType) ? body.manifests : [body.config, ...asArray(body.layers)];
  return asArray(list).map((d, i) => descriptor(d, `manifest ${manifest.digest} entry ${i + 1}`));
}

export function imageManifest(manifest: Manifest): ImageManifest {
  const body = parseJson(manifest.bytes, `manifest ${manifest.digest}`);
  if (isIndex(manifest.mediaType))
    throw new ResourceFailure(`manifest ${manifest.digest} is an index, not an image`);
  const annotations = body.annotations;
  return {
    config: descriptor(body.config, `manifest ${manifest.digest} config`),
    layers: asArray(body.layers).map((d, i) => descriptor(d, `manifest ${manifest.digest} layer ${i + 1}`)),
    annotations:
      typeof annotations === 'object' && annotations !== null ? (annotations as Record<string, string>) : {},
  };
}

/** The image for `platform`: the manifest itself, or the index's entry for it. */
export async function imageFor(
  client: RegistryClient,
  manifest: Manifest,
  platform: Platform,
): Promise<Manifest> {
  if (!isIndex(manifest.mediaType)) return manifest;
  const entries = descriptorsOf(manifest);
  const match = entries.find(
    (d) =>
      d.platform?.os === platform.os &&
      d.platform.architecture === platform.architecture &&
      (platform.variant === undefined || d.platform.variant === platform.variant),
  );
  if (!match) {
    const has = entries.map((d) => `${d.platform?.os ?? '?'}/${d.platform?.architecture ?? '?'}`).join(', ');
    throw new ResourceFailure(
      `${client.display}@${manifest.digest} has no image for ${platform.os}/${platform.architecture}${platform.variant ? `/${platform.variant}` : ''} (it has ${has || 'none'}); set source.platform or params.platform`,
    );
  }
  const child = await client.manifest(match.digest);
  if (!child) throw new ResourceFailure(`${client.display} lost ${match.digest}, listed in its index`);
  return child;
}

function descriptor(raw: unknown, what: string): Descriptor {
  const d = raw as Partial<Descriptor> | null;
  if (
    !d ||
    typeof d.mediaType !== 'string' ||
    typeof d.digest !== 'string' ||
    !/^sha256:[0-9a-f]{64}$/.test(d.digest) ||
    typeof d.size !== 'number'
  )
    throw new ResourceFailure(`${what} is not a descriptor with mediaType, sha256 digest and size`);
  return { mediaType: d.mediaType, digest: d.digest, size: d.size, platform: d.platform };
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
