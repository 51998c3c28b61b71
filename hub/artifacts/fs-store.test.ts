import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { create } from 'tar';
import { FsArtifactStore } from './fs-store.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-store-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function chunks(...parts: string[]): AsyncIterable<Buffer> {
  return (async function* () {
    for (const p of parts) yield await Promise.resolve(Buffer.from(p));
  })();
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

it('stores by content, verifying the announced size and checksum', async () => {
  const store = new FsArtifactStore(dir, 1000);
  const ref = await store.put(chunks('hello ', 'world'), { size: 11, sha256: sha('hello world') });
  expect(ref).toEqual({ digest: `sha256:${sha('hello world')}`, size: 11 });
  expect(await store.has(ref.digest)).toBe(true);
  expect((await store.list()).map((a) => a.digest)).toEqual([ref.digest]);

  await expect(store.put(chunks('hello'), { sha256: sha('other') })).rejects.toThrow(
    /does not match the announced/,
  );
  await expect(store.put(chunks('hello'), { size: 6 })).rejects.toThrow(
    'artifact size 5 does not match the announced 6',
  );
  // Nothing half-written is left behind.
  expect((await readdir(path.join(dir, 'sha256'))).length).toBe(1);
});

it('refuses an artifact over the limit while streaming', async () => {
  const store = new FsArtifactStore(dir, 10);
  await expect(store.put(chunks('0123456789', 'x'), {})).rejects.toMatchObject({
    code: 'ARTIFACT_TOO_LARGE',
  });
  await expect(store.put(chunks('x'), { size: 11 })).rejects.toThrow(
    'artifact of 11 bytes exceeds the limit of 10 bytes',
  );
});

it('reads one file out of a stored archive', async () => {
  const src = path.join(dir, 'src');
  const { mkdir } = await import('node:fs/promises');
  await mkdir(path.join(src, 'ci'), { recursive: true });
  await writeFile(path.join(src, 'ci/task.yml'), 'platform: linux\n');
  const tarFile = path.join(dir, 'a.tar');
  await create({ cwd: src, file: tarFile }, ['.']);
  const store = new FsArtifactStore(path.join(dir, 'store'), 1 << 20);
  const { createReadStream } = await import('node:fs');
  const ref = await store.put(createReadStream(tarFile), {});
  expect((await store.readFile(ref.digest, 'ci/task.yml', 100)).toString()).toBe('platform: linux\n');
  await expect(store.readFile(ref.digest, 'ci/nope.yml', 100)).rejects.toThrow('ci/nope.yml: no such file');
  await expect(store.readFile(ref.digest, 'ci/task.yml', 3)).rejects.toThrow(
    'ci/task.yml is larger than 3 bytes',
  );
});
