// Unpacks an image's layers, lowest first, into a rootfs directory, applying the OCI whiteouts
// (`.wh.<name>` removes a lower layer's file, `.wh..wh..opq` empties a lower layer's directory).
// tar never writes outside the directory nor through a symlink, and skips device files (they cannot
// be made without privileges), as the original does.

import { open, readdir, rm, lstat } from 'node:fs/promises';
import path from 'node:path';
import { extract, list, type ReadEntry } from 'tar';
import { ResourceFailure } from '../builtin.js';

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';

/** Applies one layer (a tar, gzip or plain, already verified against its digest) onto `root`. */
export async function applyLayer(root: string, layer: string, what: string): Promise<void> {
  await refuseZstd(layer, what);
  const removals: string[] = [];
  const opaque: string[] = [];
  await list({
    file: layer,
    onReadEntry: (entry: ReadEntry) => {
      const base = path.posix.basename(entry.path);
      const dir = path.posix.dirname(entry.path);
      if (base === OPAQUE) opaque.push(dir);
      else if (base.startsWith(WHITEOUT)) removals.push(path.posix.join(dir, base.slice(WHITEOUT.length)));
    },
  });
  // Whiteouts hide what the layers below put there, so they go before this layer's own files.
  for (const dir of opaque) {
    const at = safePath(root, dir);
    if (at && (await isRealDir(root, at)))
      for (const name of await readdir(at)) await rm(path.join(at, name), { recursive: true, force: true });
  }
  for (const rel of removals) {
    const at = safePath(root, rel);
    if (at && (await parentsAreDirs(root, at))) await rm(at, { recursive: true, force: true });
  }
  // Informational notes and device files (TAR_ENTRY_UNSUPPORTED) are fine; anything else (an entry
  // through a symlink, a `..` path) means the layer did not unpack as written.
  let refused: string | undefined;
  await extract({
    file: layer,
    cwd: root,
    filter: (p) => !path.posix.basename(p).startsWith(WHITEOUT),
    onwarn: (code, message) => {
      if (code !== 'TAR_ENTRY_INFO' && code !== 'TAR_ENTRY_UNSUPPORTED') refused ??= message;
    },
  });
  if (refused !== undefined) throw new ResourceFailure(`${what}: ${refused}`);
}

/** Node 20's zlib has no zstd: say so instead of failing as "not a tar". */
async function refuseZstd(file: string, what: string): Promise<void> {
  const handle = await open(file, 'r');
  try {
    const magic = Buffer.alloc(4);
    await handle.read(magic, 0, 4, 0);
    if (magic.equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd])))
      throw new ResourceFailure(
        `${what} is zstd-compressed, which Outpost's built-in registry-image cannot unpack`,
      );
  } finally {
    await handle.close();
  }
}

/** `rel` under `root`, or undefined when it would leave it. */
function safePath(root: string, rel: string): string | undefined {
  const at = path.resolve(root, rel.replace(/^\/+/, ''));
  const back = path.relative(root, at);
  return back === '' || back.startsWith('..') || path.isAbsolute(back) ? undefined : at;
}

/** True when no directory on the way from `root` to `at` is a symlink (nothing outside is touched). */
async function parentsAreDirs(root: string, at: string): Promise<boolean> {
  let dir = path.dirname(at);
  while (dir.length > root.length) {
    const st = await lstat(dir).catch(() => undefined);
    if (!st?.isDirectory()) return false;
    dir = path.dirname(dir);
  }
  return true;
}

async function isRealDir(root: string, at: string): Promise<boolean> {
  const st = await lstat(at).catch(() => undefined);
  return !!st?.isDirectory() && (await parentsAreDirs(root, at));
}
