import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keepCaches, placeCaches } from './caches.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'outpost-caches-'));
});
afterEach(() => rm(root, { recursive: true, force: true }));

describe('process pool caches', () => {
  it('keeps nested caches apart, whatever order the task lists them in', async () => {
    const work = path.join(root, 'work');
    await mkdir(work);
    const caches = [
      { path: 'a/b', dir: path.join(root, 'kept-b') },
      { path: 'a', dir: path.join(root, 'kept-a') },
    ];
    const placed = await placeCaches(work, caches, []);
    await writeFile(path.join(work, 'a', 'in-a'), 'A');
    await writeFile(path.join(work, 'a', 'b', 'in-b'), 'B');
    await keepCaches(placed);
    expect(await readdir(path.join(root, 'kept-a'))).toEqual(['in-a']);
    expect(await readFile(path.join(root, 'kept-b', 'in-b'), 'utf8')).toBe('B');

    const again = path.join(root, 'again');
    await mkdir(again);
    await placeCaches(again, caches, []);
    expect((await readdir(path.join(again, 'a'))).sort()).toEqual(['b', 'in-a']);
    expect(await readFile(path.join(again, 'a', 'b', 'in-b'), 'utf8')).toBe('B');
  });
});
