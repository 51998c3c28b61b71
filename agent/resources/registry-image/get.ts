// registry-image's get, as concourse/registry-image-resource's `in`: fetch the version's digest
// (verified) and write it as `rootfs/` + `metadata.json` (the default), `image.tar` (`format: oci`) or
// `oci/` (`format: oci-layout`), with `labels.json`; always the `repository`, `tag` and `digest` files
// (no trailing newline, as the original), which is what a Kubernetes pod runs as repository@digest.

import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ResourceFailure } from '../builtin.js';
import { type Manifest, parseJson, type RegistryClient } from './client.js';
import type { ImageVersion } from './check.js';
import { saveTarball } from './image-tarball.js';
import { imageFor, imageManifest, type ImageManifest } from './manifest.js';
import { saveLayout } from './oci-layout.js';
import { applyLayer } from './rootfs.js';
import type { ImageGetParams, ImageSource } from './source.js';

interface ImageConfig {
  config?: {
    Env?: string[];
    User?: string;
    Entrypoint?: string[];
    Cmd?: string[];
    Labels?: Record<string, string>;
  };
}

export async function get(
  client: RegistryClient,
  dest: string,
  source: ImageSource,
  params: ImageGetParams,
  version: ImageVersion,
  log: (line: string) => void,
): Promise<unknown> {
  if (!/^sha256:[0-9a-f]{64}$/.test(version.digest))
    throw new ResourceFailure('version.digest must be a sha256 digest (sha256:<64 hex digits>)');
  log(`fetching ${source.repositoryText}@${version.digest}`);
  const top = await client.manifest(version.digest);
  if (!top) throw new ResourceFailure(`${client.display}@${version.digest} is not in the registry`);
  const scratch = await mkdtemp(path.join(tmpdir(), 'outpost-image-'));
  let config: ImageConfig | undefined;
  try {
    if (!params.skipDownload) {
      if (params.format === 'oci-layout') await saveLayout(client, top, path.join(dest, 'oci'));
      else config = await saveImage(client, top, dest, source, params, version, scratch);
    }
    if (!config && source.labelRegex) config = (await platformImage(client, top, params, scratch)).config;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  await writeFile(path.join(dest, 'tag'), version.tag);
  await writeFile(path.join(dest, 'digest'), version.digest);
  await writeFile(path.join(dest, 'repository'), source.repositoryText);

  const metadata = [
    { name: 'repository', value: source.repositoryText },
    { name: 'tag', value: version.tag },
  ];
  const labels = config?.config?.Labels ?? {};
  if (source.labelRegex)
    for (const key of Object.keys(labels).sort())
      if (source.labelRegex.test(key)) metadata.push({ name: key, value: String(labels[key]) });
  return { version, metadata };
}

/** rootfs or oci: the platform's image, unpacked or as image.tar; returns its config. */
async function saveImage(
  client: RegistryClient,
  top: Manifest,
  dest: string,
  source: ImageSource,
  params: ImageGetParams,
  version: ImageVersion,
  scratch: string,
): Promise<ImageConfig> {
  const { image, config } = await platformImage(client, top, params, scratch);
  if (params.format === 'oci') {
    await saveTarball(
      client,
      image,
      path.join(dest, 'image.tar'),
      `${source.repositoryText}:${version.tag || 'latest'}`,
      path.join(scratch, 'tarball'),
    );
  } else {
    const rootfs = path.join(dest, 'rootfs');
    await mkdir(rootfs, { recursive: true });
    for (const [i, layer] of image.layers.entries()) {
      const file = path.join(scratch, 'layer');
      await client.download(layer, file);
      await applyLayer(rootfs, file, `layer ${i + 1} (${layer.digest})`);
      await rm(file, { force: true });
    }
    // Go's encoding of registry-image-resource's ImageMetadata: absent lists are null.
    const c = config.config ?? {};
    const metadata = {
      cmd: c.Cmd ?? null,
      entrypoint: c.Entrypoint ?? null,
      env: c.Env ?? null,
      user: c.User ?? '',
    };
    await writeFile(path.join(dest, 'metadata.json'), `${JSON.stringify(metadata)}\n`);
  }
  await writeFile(path.join(dest, 'labels.json'), `${JSON.stringify(config.config?.Labels ?? {})}\n`);
  return config;
}

/** The image for the wanted platform and its config. */
async function platformImage(
  client: RegistryClient,
  top: Manifest,
  params: ImageGetParams,
  scratch: string,
): Promise<{ image: ImageManifest; config: ImageConfig }> {
  const image = imageManifest(await imageFor(client, top, params.platform));
  const file = path.join(scratch, 'config.json');
  await client.download(image.config, file);
  return { image, config: parseJson(await readFile(file), 'image config') };
}
