// The image tarball of `docker save` / go-containerregistry's tarball package: `manifest.json`
// (`[{Config, RepoTags, Layers}]`), the config and the layers. A get with `format: oci` writes one
// (image.tar, what `docker load` and oci-build-task read); a put reads one, as oci-build-task writes
// it. Layers that are plain tars are gzipped for the push, and every layer is checked against the
// config's `rootfs.diff_ids` as it is read.

import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { create } from 'tar';
import { ResourceFailure } from '../builtin.js';
import { type Descriptor, type Manifest, MEDIA, parseJson, type RegistryClient } from './client.js';
import type { ImageManifest } from './manifest.js';
import type { BlobFile, PushPlan } from './blobs.js';

/** Writes `image` as `file` (docker-save layout), tagged `repoTag`; `staging` is scratch space. */
export async function saveTarball(
  client: RegistryClient,
  image: ImageManifest,
  file: string,
  repoTag: string,
  staging: string,
): Promise<void> {
  await mkdir(staging, { recursive: true });
  const configName = image.config.digest;
  await client.download(image.config, path.join(staging, configName));
  const layers: string[] = [];
  for (const layer of image.layers) {
    const name = `${layer.digest.slice('sha256:'.length)}.tar.gz`;
    await client.download(layer, path.join(staging, name));
    layers.push(name);
  }
  await writeFile(
    path.join(staging, 'manifest.json'),
    JSON.stringify([{ Config: configName, RepoTags: [repoTag], Layers: layers }]),
  );
  await create({ file, cwd: staging, portable: true }, [configName, ...layers, 'manifest.json']);
}

/** What a put pushes from an unpacked tarball in `dir`; `scratch` receives gzipped layers. */
export async function readTarball(dir: string, scratch: string, what: string): Promise<PushPlan> {
  const manifestJson = await readFile(path.join(dir, 'manifest.json')).catch(() => {
    throw new ResourceFailure(
      `${what} is neither an image tarball (no manifest.json) nor an OCI image layout (no oci-layout)`,
    );
  });
  let entries: unknown;
  try {
    entries = JSON.parse(manifestJson.toString('utf8'));
  } catch {
    throw new ResourceFailure(`${what}: manifest.json is not JSON`);
  }
  const entry = Array.isArray(entries) ? (entries[0] as { Config?: unknown; Layers?: unknown }) : undefined;
  if (!entry || typeof entry.Config !== 'string' || !Array.isArray(entry.Layers))
    throw new ResourceFailure(`${what}: manifest.json must be a list of {Config, Layers}`);
  if ((entries as unknown[]).length > 1)
    throw new ResourceFailure(`${what} holds ${(entries as unknown[]).length} images; a put pushes one`);

  const inside = (name: unknown) => {
    const at = path.resolve(dir, String(name));
    if (!at.startsWith(dir + path.sep))
      throw new ResourceFailure(`${what}: ${JSON.stringify(name)} is outside it`);
    return at;
  };
  const configFile = inside(entry.Config);
  const configBytes = await readFile(configFile).catch(() => {
    throw new ResourceFailure(`${what}: config ${JSON.stringify(entry.Config)} is missing`);
  });
  const config = parseJson(configBytes, `${what}: config`) as { rootfs?: { diff_ids?: unknown } };
  const diffIds = Array.isArray(config.rootfs?.diff_ids) ? (config.rootfs.diff_ids as unknown[]) : [];
  if (diffIds.length !== entry.Layers.length)
    throw new ResourceFailure(
      `${what}: the config lists ${diffIds.length} layer diff_ids for ${entry.Layers.length} layers`,
    );

  await mkdir(scratch, { recursive: true });
  const configDigest = sha256(configBytes);
  const blobs: BlobFile[] = [{ digest: configDigest, size: configBytes.length, file: configFile }];
  const layers: Descriptor[] = [];
  for (const [i, name] of (entry.Layers as unknown[]).entries()) {
    const layer = await gzipLayer(
      inside(name),
      path.join(scratch, `layer-${i}.tar.gz`),
      String(diffIds[i]),
      `${what}: layer ${String(name)}`,
    );
    blobs.push(layer);
    layers.push({ mediaType: MEDIA.dockerLayerGzip, digest: layer.digest, size: layer.size });
  }
  const body = {
    schemaVersion: 2,
    mediaType: MEDIA.dockerManifest,
    config: { mediaType: MEDIA.dockerConfig, size: configBytes.length, digest: configDigest },
    layers,
  };
  const bytes = Buffer.from(JSON.stringify(body));
  const root: Manifest = { mediaType: MEDIA.dockerManifest, digest: sha256(bytes), bytes };
  return { blobs, children: [], root };
}

/**
 * The layer as a gzip blob, verified against its diff_id: a gzipped layer is used as it is, a plain
 * tar is gzipped to `out`.
 */
async function gzipLayer(file: string, out: string, diffId: string, what: string): Promise<BlobFile> {
  if (!(await stat(file).catch(() => undefined))?.isFile()) throw new ResourceFailure(`${what} is missing`);
  const gzipped = await isGzip(file);
  const uncompressed = createHash('sha256');
  const hashing = new Transform({
    transform(chunk: Buffer, _enc, done) {
      uncompressed.update(chunk);
      done(null, chunk);
    },
  });
  let blob: BlobFile;
  if (gzipped) {
    await pipeline(
      createReadStream(file),
      createGunzip(),
      hashing,
      new Writable({ write: (_c, _e, d) => d() }),
    );
    blob = { file, digest: await fileDigest(file), size: (await stat(file)).size };
  } else {
    const compressed = createHash('sha256');
    let size = 0;
    const counting = new Transform({
      transform(chunk: Buffer, _enc, done) {
        compressed.update(chunk);
        size += chunk.length;
        done(null, chunk);
      },
    });
    await pipeline(createReadStream(file), hashing, createGzip(), counting, createWriteStream(out));
    blob = { file: out, digest: `sha256:${compressed.digest('hex')}`, size };
  }
  const got = `sha256:${uncompressed.digest('hex')}`;
  if (got !== diffId) {
    if (!gzipped) await rm(out, { force: true });
    throw new ResourceFailure(`${what} does not match the config's diff_id ${diffId} (got ${got})`);
  }
  return blob;
}

async function isGzip(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const magic = Buffer.alloc(2);
    await handle.read(magic, 0, 2, 0);
    return magic[0] === 0x1f && magic[1] === 0x8b;
  } finally {
    await handle.close();
  }
}

async function fileDigest(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

export function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}
