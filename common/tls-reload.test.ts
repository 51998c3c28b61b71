import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ReloadingTlsFiles } from './tls-reload.js';

const fixtures = path.join(import.meta.dirname, '../test/fixtures/tls');
let dir: string;
let logged: { msg: string; problem?: string; certificate?: string }[];
const log = pino(
  { level: 'info' },
  { write: (line: string) => void logged.push(JSON.parse(line) as (typeof logged)[number]) },
);

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-tls-'));
  logged = [];
  await copyFile(path.join(fixtures, 'hub.pem'), path.join(dir, 'tls.crt'));
  await copyFile(path.join(fixtures, 'hub.key'), path.join(dir, 'tls.key'));
  await copyFile(path.join(fixtures, 'ca.pem'), path.join(dir, 'ca.crt'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const files = () => ({
  certFile: path.join(dir, 'tls.crt'),
  keyFile: path.join(dir, 'tls.key'),
  caFile: path.join(dir, 'ca.crt'),
});
const load = () => ReloadingTlsFiles.load(files(), { intervalMs: 60_000, log });
const use = (name: string, as: string) => copyFile(path.join(fixtures, name), path.join(dir, as));

/** The identity updates grpc-js would see: the first one (on the next tick), then each reload. */
async function identities(tls: ReloadingTlsFiles): Promise<string[]> {
  const seen: string[] = [];
  const listener = (u: { certificate: Buffer } | null) => seen.push(u ? u.certificate.toString() : 'none');
  tls.addIdentityCertificateListener(listener);
  await new Promise((resolve) => process.nextTick(resolve));
  return seen;
}

describe('ReloadingTlsFiles', () => {
  it('hands a renewed certificate and key to its listeners, and only once', async () => {
    const tls = await load();
    const seen = await identities(tls);
    expect(await tls.reload()).toBe('unchanged');
    await use('hub2.pem', 'tls.crt');
    await use('hub2.key', 'tls.key');
    expect(await tls.reload()).toBe('reloaded');
    expect(await tls.reload()).toBe('unchanged');
    const [first, second] = await Promise.all(
      ['hub.pem', 'hub2.pem'].map((f) => readFile(path.join(fixtures, f), 'utf8')),
    );
    expect(seen).toEqual([first, second]);
    expect(logged.map((l) => l.msg)).toEqual(['TLS files changed; new connections use them']);
  });

  it('keeps serving the last good pair while the files are half written or gone, saying why once', async () => {
    const tls = await load();
    const seen = await identities(tls);
    await use('hub2.pem', 'tls.crt'); // the certificate is new, the key not yet
    expect(await tls.reload()).toBe('kept-previous');
    expect(await tls.reload()).toBe('kept-previous');
    await rm(path.join(dir, 'tls.key'));
    expect(await tls.reload()).toBe('kept-previous');
    expect(seen).toHaveLength(1);
    expect(logged.map((l) => l.problem)).toEqual([
      expect.stringMatching(
        /tls\.crt and .*tls\.key are not a PEM certificate and its key: .*key values mismatch/,
      ),
      `cannot read ${path.join(dir, 'tls.key')}: ENOENT`,
    ]);
    await use('hub2.key', 'tls.key');
    expect(await tls.reload()).toBe('reloaded');
    expect(seen).toHaveLength(2);
  });

  it('refuses unusable files at start, naming them', async () => {
    await writeFile(path.join(dir, 'ca.crt'), 'not a certificate\n');
    await expect(load()).rejects.toThrow(`${path.join(dir, 'ca.crt')} is not a PEM CA bundle`);
    await use('hub2.key', 'tls.key');
    await expect(
      ReloadingTlsFiles.load({ ...files(), caFile: undefined }, { intervalMs: 1, log }),
    ).rejects.toThrow('are not a PEM certificate and its key');
  });
});
