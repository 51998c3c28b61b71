// Size-bounded keeping, shared by the artifact cache and the task caches: when what is kept outgrows
// its bound, the least recently used entries go first until the rest fits.
import { rm } from 'node:fs/promises';

export interface KeptEntry {
  /** File or directory, removed whole. */
  path: string;
  size: number;
  /** When it was last used (ms): its mtime, refreshed on each use. */
  usedAt: number;
}

/** Removes the least recently used of `entries` until the others fit in `maxBytes`; returns the removed. */
export async function evictLeastRecentlyUsed(entries: KeptEntry[], maxBytes: number): Promise<string[]> {
  let total = entries.reduce((sum, e) => sum + e.size, 0);
  const removed: string[] = [];
  for (const entry of [...entries].sort((a, b) => a.usedAt - b.usedAt)) {
    if (total <= maxBytes) break;
    await rm(entry.path, { recursive: true, force: true });
    total -= entry.size;
    removed.push(entry.path);
  }
  return removed;
}
