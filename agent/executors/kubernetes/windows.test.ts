// Windows outputs on the `api` data path. Windows cannot run here (the fake runs Linux processes, see
// test/support/fake-k8s/README.md): these check the cmd line the outputs helper runs, the parsing of
// what it prints (nanoserver: the size only; Server Core: certutil's sha256 too, in both its formats),
// and the agent's comparison of a received file with it.
import { randomBytes, createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseArchiveReport, streamOutCommand, TransferError } from './data-path.js';
import { settingsFor } from './settings.test-fixtures.js';
import { verifyReceived } from './step-data.js';
import { parseWindowsArchiveReport } from './windows.js';

const windowsPool = settingsFor({ platform: 'windows', helperShell: 'cmd', workspace: 'C:\\workspace' });
const SHA = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

describe('Windows outputs on the api path', () => {
  it('the outputs helper tars to a file of its own, says its size (and sha256 with certutil), then types it', () => {
    expect(streamOutCommand(windowsPool, 'C:\\workspace\\out\\bin', 'u1')).toEqual([
      'cmd',
      '/S',
      '/C',
      '(tar -cf "C:\\workspace\\.outpost-upload-u1.tar" -C "C:\\workspace\\out\\bin" . || exit 1) & ' +
        '(for %A in ("C:\\workspace\\.outpost-upload-u1.tar") do @echo outpost-archive-size %~zA 1>&2) & ' +
        '(certutil -hashfile "C:\\workspace\\.outpost-upload-u1.tar" SHA256 1>&2 2>NUL) & ' +
        '(type "C:\\workspace\\.outpost-upload-u1.tar" || (del "C:\\workspace\\.outpost-upload-u1.tar" & exit 1)) & ' +
        'del "C:\\workspace\\.outpost-upload-u1.tar"',
    ]);
  });

  it('reads the size alone from nanoserver, which has no certutil', () => {
    // cmd's "'certutil' is not recognized" went to NUL; echo leaves the space before 1>&2.
    expect(parseArchiveReport(windowsPool, 'outpost-archive-size 10240 \r\n')).toEqual({
      size: 10240,
      sha256: undefined,
    });
  });

  it("reads certutil's sha256 on Server Core, in today's format and the spaced one of older builds", () => {
    const today = [
      'outpost-archive-size 10240 ',
      'SHA256 hash of C:\\workspace\\.outpost-upload-u1.tar:',
      SHA,
      'CertUtil: -hashfile command completed successfully.',
      '',
    ].join('\r\n');
    expect(parseWindowsArchiveReport(today)).toEqual({ size: 10240, sha256: SHA });
    const spaced = [
      'outpost-archive-size 10240 ',
      'SHA256 hash of file C:\\workspace\\.outpost-upload-u1.tar:',
      (SHA.toUpperCase().match(/../g) ?? []).join(' '),
      'CertUtil: -hashfile command completed successfully.',
      '',
    ].join('\r\n');
    expect(parseWindowsArchiveReport(spaced)).toEqual({ size: 10240, sha256: SHA });
  });

  it('without the size line there is nothing to compare: the upload is not trusted', () => {
    expect(parseWindowsArchiveReport("tar.exe: Couldn't visit directory\r\n")).toBeUndefined();
  });
});

describe('the agent compares what arrived with what the pod said', () => {
  let dir: string;
  let file: string;
  const data = randomBytes(4096);
  const sha256 = createHash('sha256').update(data).digest('hex');
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'kwin-'));
    file = path.join(dir, 'got.tar');
    await writeFile(file, data);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('accepts the same size, with or without a sha256', async () => {
    await verifyReceived(file, { size: 4096, sha256 });
    await verifyReceived(file, { size: 4096, sha256: undefined });
  });

  it('a short file is cut; another sha256 is digest', async () => {
    await expect(verifyReceived(file, { size: 5000, sha256: undefined })).rejects.toEqual(
      new TransferError('cut', 'received 4096 of the 5000 bytes the pod sent'),
    );
    await expect(verifyReceived(file, { size: 4096, sha256: SHA })).rejects.toEqual(
      new TransferError('digest', `received sha256 ${sha256}, the pod sent ${SHA}`),
    );
  });
});
