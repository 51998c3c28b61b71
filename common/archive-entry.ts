// The one rule for what a tar entry may be, shared by the agent (unpacking) and the hub (checking an
// upload): it must land inside the target directory, and a link must point inside it too. Pure.

import path from 'node:path';

export interface ArchiveEntry {
  path: string;
  type: string;
  linkpath?: string;
}

/** Why the entry would escape a directory unpacked at `root` (an absolute path), or undefined. */
export function entryEscape(root: string, entry: ArchiveEntry): string | undefined {
  const inside = (target: string) => {
    const rel = path.relative(root, target);
    return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
  };
  if (path.isAbsolute(entry.path) || !inside(path.resolve(root, entry.path)))
    return `archive entry "${entry.path}" points outside the directory`;
  if ((entry.type === 'SymbolicLink' || entry.type === 'Link') && entry.linkpath) {
    const target =
      entry.type === 'Link'
        ? path.resolve(root, entry.linkpath)
        : path.resolve(root, path.dirname(entry.path), entry.linkpath);
    if (path.isAbsolute(entry.linkpath) || !inside(target))
      return `archive entry "${entry.path}" links to "${entry.linkpath}", outside the directory`;
  }
  return undefined;
}
