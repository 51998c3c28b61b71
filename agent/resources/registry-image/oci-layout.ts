// The OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/<hex>`), written by a get with
// `format: oci-layout` and read by a put, as registry-image-resource does: a single image is wrapped
// in an index.json with a `single-image-digest` file naming it (so a put pushes that image, same
// digest); an index is written as index.json itself, with every platform's image (so a put of it
// mirrors the index, same digest).

import { createHash } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ResourceFailure } from '../builtin.js';
import { isIndex, type Manifest, MEDIA, parseJson, type RegistryClient } from './client.js';
import { descriptorsOf } from './manifest.js';
import { type BlobFile, type PushPlan, verifyFile } from './blobs.js';

const SINGLE_IMAGE = 'single-image-digest';

export async function saveLayout(client: RegistryClient, manifest: Manifest, dir: string): Promise<void> {
  const blobs = path.join(dir, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  await writeFile(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const blobFile = (digest: string) => path.join(blobs, digest.slice('sha256:'.length));
  const saveTree = async (m: Manifest): Promise<void> => {
    await writeFile(blobFile(m.digest), m.bytes);
    for (const d of descriptorsOf(m)) {
      if (isIndex(m.mediaType)) {
        const child = await client.manifest(d.digest);
        if (!child) throw new ResourceFailure(`${client.display} lost ${d.digest}, listed in ${m.digest}`);
        await saveTree(child);
      } else if (!(await stat(blobFile(d.digest)).catch(() => undefined))) {
        await client.download(d, blobFile(d.digest));
      }
    }
  };
  await saveTree(manifest);
  if (isIndex(manifest.mediaType)) {
    await writeFile(path.join(dir, 'index.json'), manifest.bytes);
    return;
  }
  const index = {
    schemaVersion: 2,
    mediaType: MEDIA.ociIndex,
    manifests: [{ mediaType: manifest.mediaType, size: manifest.bytes.length, digest: manifest.digest }],
  };
  await writeFile(path.join(dir, 'index.json'), JSON.stringify(index));
  await writeFile(path.join(dir, SINGLE_IMAGE), manifest.digest);
}

/** What a put pushes from a layout directory; every blob and manifest is verified as it is read. */
export async function readLayout(dir: string, what: string): Promise<PushPlan> {
  const blobFile = (digest: string) => {
    if (!/^sha256:[0-9a-f]{64}$/.test(digest))
      throw new ResourceFailure(`${what}: ${JSON.stringify(digest)} is not a sha256 digest`);
    return path.join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length));
  };
  const readManifest = async (digest: string, mediaType: string): Promise<Manifest> => {
    const file = blobFile(digest);
    const bytes = await readFile(file).catch(() => {
      throw new ResourceFailure(`${what}: blob ${digest} is missing`);
    });
    await verifyFile(file, { digest, size: bytes.length }, `${what}: blob ${digest}`);
    const declared = parseJson(bytes, `${what}: manifest ${digest}`).mediaType;
    return { digest, bytes, mediaType: typeof declared === 'string' ? declared : mediaType };
  };

  const indexBytes = await readFile(path.join(dir, 'index.json')).catch(() => {
    throw new ResourceFailure(`${what} is not an OCI image layout (no index.json)`);
  });
  let root: Manifest = {
    digest: `sha256:${createHash('sha256').update(indexBytes).digest('hex')}`,
    bytes: indexBytes,
    mediaType: MEDIA.ociIndex,
  };
  const single = await readFile(path.join(dir, SINGLE_IMAGE), 'utf8').catch(() => undefined);
  if (single !== undefined) {
    root = await readManifest(single.trim(), MEDIA.ociManifest);
  } else {
    // An index.json that only wraps another index pushes that index (registry-image-resource's rule).
    for (;;) {
      const entries = descriptorsOf(root);
      const only = entries.length === 1 ? entries[0] : undefined;
      if (!only || !isIndex(only.mediaType)) break;
      root = await readManifest(only.digest, only.mediaType);
    }
  }

  const blobs: BlobFile[] = [];
  const children: Manifest[] = [];
  const walk = async (m: Manifest): Promise<void> => {
    for (const d of descriptorsOf(m)) {
      if (isIndex(m.mediaType)) {
        const child = await readManifest(d.digest, d.mediaType);
        await walk(child);
        children.push(child);
      } else if (!blobs.some((b) => b.digest === d.digest)) {
        const file = blobFile(d.digest);
        await verifyFile(file, d, `${what}: blob ${d.digest}`).catch((err: unknown) => {
          throw (err as NodeJS.ErrnoException).code === 'ENOENT'
            ? new ResourceFailure(`${what}: blob ${d.digest} is missing`)
            : err;
        });
        blobs.push({ digest: d.digest, size: d.size, file });
      }
    }
  };
  await walk(root);
  return { blobs, children, root };
}
