// Directories to and from tar archives for `execute`: an input is packed (leaving out what .gitignore
// files ignore, as fly does, unless asked not to) into a temp file so its size is known before the
// upload; an output is unpacked refusing any entry that would land outside its directory.

import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import ignore, { type Ignore } from 'ignore';
import { create, extract, type ReadEntry } from 'tar';
import { entryEscape } from '../common/archive-entry.js';
import { CliError } from './io.js';

export interface PackedDir {
  file: string;
  size: number;
  /** Removes the temp file. */
  dispose: () => Promise<void>;
}

/** The directory's files as a tar in a temp file; `.gitignore`d paths left out unless `includeIgnored`. */
export async function packDir(dir: string, includeIgnored: boolean): Promise<PackedDir> {
  const st = await stat(dir).catch(() => undefined);
  if (!st) throw new CliError(`input directory ${dir} does not exist`);
  if (!st.isDirectory()) throw new CliError(`${dir} is not a directory`);
  const keep = includeIgnored ? undefined : await kept(dir);
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'outpost-upload-'));
  const file = path.join(tmp, 'input.tar');
  await pipeline(
    create(
      {
        cwd: dir,
        portable: true,
        filter: (p) => keep === undefined || keep.has(path.posix.normalize(p)),
      },
      ['.'],
    ),
    createWriteStream(file),
  );
  return { file, size: (await stat(file)).size, dispose: () => rm(tmp, { recursive: true, force: true }) };
}

/**
 * Every path (relative, posix, "." for the root) git would not ignore: each directory's `.gitignore`
 * applies below it, an ignored directory hides all it holds, and `.git` itself is never sent.
 */
async function kept(root: string): Promise<Set<string>> {
  const out = new Set<string>(['.']);
  const walk = async (rel: string, rules: { base: string; ig: Ignore }[]): Promise<void> => {
    const abs = path.join(root, rel);
    const own = await readFile(path.join(abs, '.gitignore'), 'utf8').catch(() => undefined);
    const scoped = own === undefined ? rules : [...rules, { base: rel, ig: ignore().add(own) }];
    for (const entry of await readdir(abs, { withFileTypes: true })) {
      const child = rel === '.' ? entry.name : `${rel}/${entry.name}`;
      if (entry.name === '.git') continue;
      const dir = entry.isDirectory();
      const ignored = scoped.some(({ base, ig }) => {
        const relToBase = base === '.' ? child : child.slice(base.length + 1);
        return ig.ignores(dir ? `${relToBase}/` : relToBase);
      });
      if (ignored) continue;
      out.add(child);
      if (dir) await walk(child, scoped);
    }
  };
  await walk('.', []);
  return out;
}

/** Unpacks a tar stream into `dir` (created), refusing entries that would escape it. */
export async function unpackInto(stream: Readable, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const root = path.resolve(dir);
  let refused: string | undefined;
  await pipeline(
    stream,
    extract({
      cwd: root,
      strict: true,
      filter: (entryPath, entry) => {
        const e = entry as ReadEntry;
        const problem = entryEscape(root, { path: entryPath, type: e.type, linkpath: e.linkpath });
        refused ??= problem;
        return problem === undefined;
      },
    }),
  );
  if (refused) throw new CliError(`refused the downloaded output: ${refused}`);
}
