// Step outputs travel as tar archives. Packing hashes while it writes, so the upload can announce its
// size and sha256; unpacking refuses anything that would land outside the target directory (absolute
// paths, `..`, links pointing out) with an error that names the entry, instead of skipping it quietly.

import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { create, extract, type ReadEntry } from 'tar';
import { entryEscape } from '../../common/archive-entry.js';

export class ArchiveError extends Error {
  readonly code = 'ARCHIVE_REFUSED';
}

export interface PackedArchive {
  file: string;
  size: number;
  sha256: string;
}

/** Writes `dir` as a tar to `file`; fails once it grows past `maxBytes`. */
export async function pack(dir: string, file: string, maxBytes: number): Promise<PackedArchive> {
  const hash = createHash('sha256');
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > maxBytes)
        return done(new ArchiveError(`output is larger than the limit of ${maxBytes} bytes`));
      hash.update(chunk);
      done(null, chunk);
    },
  });
  // portable: no uid/gid/mtime noise, so the same files give the same digest.
  await pipeline(create({ cwd: dir, portable: true, noMtime: true }, ['.']), meter, createWriteStream(file));
  return { file, size, sha256: hash.digest('hex') };
}

/** Extracts `file` into `dir` (created if needed), refusing entries that escape it. */
export async function unpack(file: string, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const root = path.resolve(dir);
  let refused: ArchiveError | undefined;
  await extract({
    file,
    cwd: root,
    strict: true,
    filter: (entryPath, entry) => {
      const e = entry as ReadEntry;
      const problem = entryEscape(root, { path: entryPath, type: e.type, linkpath: e.linkpath });
      if (problem) refused ??= new ArchiveError(problem);
      return problem === undefined;
    },
  });
  if (refused) throw refused;
}

/** The sha256 of a file, in hex. */
export async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
