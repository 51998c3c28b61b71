// The root filesystems of task images for pools that run host processes: a task's `image_resource` of
// type registry-image is fetched with the built-in registry-image resource (check for the tag's digest
// unless the hub pinned one, then get as `rootfs/` + `metadata.json`) and kept by digest, so the next
// step on the same image finds it on disk. The process executor runs the step chrooted into a copy.

import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { metadataEnv } from '../../common/image-metadata.js';
import type { StepImage } from '../executors/executor.js';
import { registryImage } from '../resources/registry-image/lazy.js';

export interface ImageRootfs {
  /** The unpacked root filesystem (shared: copy it before running in it). */
  rootfs: string;
  /** The image config's Env, for what runs in it. */
  env: Record<string, string>;
  digest: string;
}

export class RootfsCache {
  constructor(private readonly root: string) {}

  /** The image's rootfs, fetched unless already here; rejects with the registry's or resource's words. */
  async rootfs(image: StepImage, log: (line: string) => void, signal: AbortSignal): Promise<ImageRootfs> {
    await mkdir(this.root, { recursive: true });
    const tag = image.tag || 'latest';
    const source = {
      repository: image.repository,
      tag,
      ...(image.username ? { username: image.username, password: image.password ?? '' } : {}),
    };
    const run = (kind: 'check' | 'get', request: object, dir: string) =>
      registryImage({
        kind,
        requestJson: JSON.stringify(request),
        dir,
        env: {},
        privileged: false,
        log,
        signal,
        now: () => new Date(),
      });
    let digest = image.digest ?? '';
    if (digest === '') {
      const versions = (await run('check', { source, version: null }, this.root)) as { digest?: string }[];
      digest = versions.at(-1)?.digest ?? '';
      if (digest === '') throw new Error(`the registry has no tag "${tag}" of ${image.repository}`);
    }
    const dir = path.join(this.root, digest.replace(':', '-'));
    if (!existsSync(path.join(dir, 'metadata.json'))) {
      log(`fetching image ${image.repository}@${digest}`);
      const scratch = await mkdtemp(path.join(this.root, '.fetch-'));
      try {
        await run('get', { source, version: { tag, digest }, params: {} }, scratch);
        // Another step may have fetched the same digest meanwhile: its copy is as good.
        await rename(scratch, dir).catch(() => undefined);
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
    }
    const metadata = await readFile(path.join(dir, 'metadata.json'), 'utf8');
    return { rootfs: path.join(dir, 'rootfs'), env: metadataEnv(metadata), digest };
  }
}
