// The agent's artifact cache: archives by digest, so a step that consumes an output produced (or
// fetched) on this agent before skips the transfer. Bounded by size; least recently used go first.

import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import path from 'node:path';
import { sha256Of } from './archive.js';
import { evictLeastRecentlyUsed } from './evict.js';

export class ArtifactCache {
  constructor(
    private readonly root: string,
    private readonly maxBytes: number,
  ) {}

  /** The archive's path if cached (and marks it used). */
  async get(digest: string): Promise<string | undefined> {
    const file = this.pathOf(digest);
    try {
      const now = new Date();
      await utimes(file, now, now);
      return file;
    } catch {
      return undefined;
    }
  }

  /** A fresh temp path inside the cache (same filesystem, so adopting it is a rename). */
  async tempPath(): Promise<string> {
    return path.join(await this.dir(), `.incoming-${randomUUID()}`);
  }

  /** The cache directory, created if needed. */
  async dir(): Promise<string> {
    await mkdir(this.root, { recursive: true });
    return this.root;
  }

  /** Moves a complete archive into the cache under its digest, verifying it first when asked. */
  async adopt(file: string, digest: string, verify: boolean): Promise<string> {
    if (verify) {
      const hex = await sha256Of(file);
      if (`sha256:${hex}` !== digest) {
        await rm(file, { force: true });
        throw new Error(`downloaded artifact has sha256:${hex}, expected ${digest}`);
      }
    }
    const target = this.pathOf(digest);
    await rename(file, target);
    await this.evict();
    return target;
  }

  private pathOf(digest: string): string {
    if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw new Error(`not an artifact digest: ${digest}`);
    return path.join(this.root, digest.slice('sha256:'.length));
  }

  private async evict(): Promise<void> {
    const entries = await Promise.all(
      (await readdir(this.root))
        .filter((n) => /^[0-9a-f]{64}$/.test(n))
        .map(async (n) => {
          const { size, mtimeMs } = await stat(path.join(this.root, n));
          return { path: path.join(this.root, n), size, usedAt: mtimeMs };
        }),
    );
    await evictLeastRecentlyUsed(entries, this.maxBytes);
  }
}
