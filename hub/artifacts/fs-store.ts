// ArtifactStore on the local filesystem: `<root>/sha256/<hex>`. Writes go to a temp file in the same
// directory while hashing, and are renamed into place only once size and checksum check out, so a
// reader never sees a partial artifact and a crash leaves only a temp file behind.

import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { Parser, type ReadEntry } from 'tar';
import { ArtifactError, isDigest, type ArtifactRef, type ArtifactStore } from './store.js';

export class FsArtifactStore implements ArtifactStore {
  private readonly dir: string;

  constructor(
    root: string,
    private readonly maxBytes: number,
  ) {
    this.dir = path.join(root, 'sha256');
  }

  async put(
    source: AsyncIterable<Uint8Array>,
    expect: { size?: number; sha256?: string },
  ): Promise<ArtifactRef> {
    await mkdir(this.dir, { recursive: true });
    if (expect.size !== undefined && expect.size > this.maxBytes) throw this.tooLarge(expect.size);
    const temp = path.join(this.dir, `.incoming-${randomUUID()}`);
    const hash = createHash('sha256');
    const out = createWriteStream(temp, { flags: 'wx' });
    let size = 0;
    try {
      for await (const chunk of source) {
        size += chunk.length;
        if (size > this.maxBytes) throw this.tooLarge(size);
        hash.update(chunk);
        if (!out.write(chunk)) await once(out, 'drain');
      }
      out.end();
      await once(out, 'finish');
      const hex = hash.digest('hex');
      if (expect.size !== undefined && expect.size !== size) {
        throw new ArtifactError(
          'ARTIFACT_CHECKSUM',
          `artifact size ${size} does not match the announced ${expect.size}`,
        );
      }
      if (expect.sha256 !== undefined && expect.sha256 !== hex) {
        throw new ArtifactError(
          'ARTIFACT_CHECKSUM',
          `artifact sha256 ${hex} does not match the announced ${expect.sha256}`,
        );
      }
      await rename(temp, path.join(this.dir, hex));
      return { digest: `sha256:${hex}`, size };
    } catch (err) {
      out.destroy();
      await rm(temp, { force: true });
      throw err;
    }
  }

  async open(digest: string): Promise<Readable | undefined> {
    const file = this.fileOf(digest);
    if (!file || !(await exists(file))) return undefined;
    return createReadStream(file, { highWaterMark: 64 * 1024 });
  }

  async has(digest: string): Promise<boolean> {
    const file = this.fileOf(digest);
    return file !== undefined && exists(file);
  }

  async readFile(digest: string, wanted: string, maxBytes: number): Promise<Buffer> {
    const stream = await this.open(digest);
    if (!stream) throw new ArtifactError('ARTIFACT_NOT_FOUND', `artifact ${digest} is not in the store`);
    const target = normalize(wanted);
    const chunks: Buffer[] = [];
    // Set from the parser's callbacks.
    const seen = { found: false, tooLarge: false };
    const parser = new Parser({
      filter: (p) => normalize(p) === target,
      onReadEntry: (entry: ReadEntry) => {
        if (entry.type !== 'File') return entry.resume();
        seen.found = true;
        if (entry.size > maxBytes) {
          seen.tooLarge = true;
          return entry.resume();
        }
        entry.on('data', (d: Buffer) => chunks.push(d));
      },
    });
    stream.pipe(parser);
    await once(parser, 'end');
    if (seen.tooLarge)
      throw new ArtifactError('ARTIFACT_FILE_TOO_LARGE', `${wanted} is larger than ${maxBytes} bytes`);
    if (!seen.found) throw new ArtifactError('ARTIFACT_FILE_NOT_FOUND', `${wanted}: no such file`);
    return Buffer.concat(chunks);
  }

  async delete(digest: string): Promise<void> {
    const file = this.fileOf(digest);
    if (file) await rm(file, { force: true });
  }

  async list(): Promise<{ digest: string; storedAt: number }[]> {
    let names: string[];
    try {
      names = (await readdir(this.dir)).filter((n) => /^[0-9a-f]{64}$/.test(n));
    } catch {
      return [];
    }
    const out: { digest: string; storedAt: number }[] = [];
    for (const name of names) {
      const st = await stat(path.join(this.dir, name)).catch(() => undefined);
      if (st) out.push({ digest: `sha256:${name}`, storedAt: st.mtimeMs });
    }
    return out;
  }

  private fileOf(digest: string): string | undefined {
    return isDigest(digest) ? path.join(this.dir, digest.slice('sha256:'.length)) : undefined;
  }

  private tooLarge(size: number): ArtifactError {
    return new ArtifactError(
      'ARTIFACT_TOO_LARGE',
      `artifact of ${size} bytes exceeds the limit of ${this.maxBytes} bytes`,
    );
  }
}

/** Archive member names as tar writes them ("./a/b", "a/b") compared as plain relative paths. */
function normalize(p: string): string {
  return path.posix.normalize(p.replace(/^\.\/+/, '')).replace(/\/$/, '');
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}
