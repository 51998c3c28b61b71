import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { create } from 'tar';
import { pack, unpack } from './archive.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-archive-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('packs a directory reproducibly and unpacks it elsewhere', async () => {
  await mkdir(path.join(dir, 'src/sub'), { recursive: true });
  await writeFile(path.join(dir, 'src/a.txt'), 'a');
  await writeFile(path.join(dir, 'src/sub/b.txt'), 'b');
  const first = await pack(path.join(dir, 'src'), path.join(dir, 'one.tar'), 1 << 20);
  const second = await pack(path.join(dir, 'src'), path.join(dir, 'two.tar'), 1 << 20);
  expect(first.sha256).toBe(second.sha256);
  await unpack(first.file, path.join(dir, 'dest'));
  expect(await readFile(path.join(dir, 'dest/sub/b.txt'), 'utf8')).toBe('b');
});

it('refuses to pack past the size limit', async () => {
  await mkdir(path.join(dir, 'src'));
  await writeFile(path.join(dir, 'src/big'), Buffer.alloc(100_000));
  await expect(pack(path.join(dir, 'src'), path.join(dir, 'x.tar'), 50_000)).rejects.toThrow(
    'output is larger than the limit of 50000 bytes',
  );
});

it('refuses entries that escape the directory, naming them', async () => {
  await mkdir(path.join(dir, 'evil/inner'), { recursive: true });
  await writeFile(path.join(dir, 'evil/x'), 'x');
  // An archive whose member names climb out of the target directory.
  await create(
    { cwd: path.join(dir, 'evil/inner'), file: path.join(dir, 'climb.tar'), preservePaths: true },
    ['../x'],
  );
  await expect(unpack(path.join(dir, 'climb.tar'), path.join(dir, 'dest1'))).rejects.toThrow(
    'archive entry "../x" points outside the directory',
  );

  await mkdir(path.join(dir, 'links'));
  await symlink('/etc/passwd', path.join(dir, 'links/passwd'));
  await create({ cwd: path.join(dir, 'links'), file: path.join(dir, 'link.tar') }, ['passwd']);
  await expect(unpack(path.join(dir, 'link.tar'), path.join(dir, 'dest2'))).rejects.toThrow(
    'archive entry "passwd" links to "/etc/passwd", outside the directory',
  );
});
