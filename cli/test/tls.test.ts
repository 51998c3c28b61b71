import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { FakeHub, sandbox, sendJson, TOKEN } from './fake-hub.js';

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!hasOpenssl())('targets with a CA file', () => {
  it('trusts the hub through ca_file and refuses it without', async () => {
    const sb = await sandbox();
    const key = join(sb.dir, 'key.pem');
    const cert = join(sb.dir, 'cert.pem');
    // A self-signed certificate is its own CA.
    execFileSync(
      'openssl',
      [
        ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1'],
        ...['-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
      ],
      { stdio: 'ignore' },
    );
    const hub = await FakeHub.start({ key: await readFile(key, 'utf8'), cert: await readFile(cert, 'utf8') });
    try {
      hub.on('GET', '/info', (_req, res) => sendJson(res, 200, { version: '0.1.0', tokenName: 'alice' }));
      hub.on('GET', '/agents', (_req, res) => sendJson(res, 200, []));

      const refused = await sb.run(['login', '--url', hub.url, '--token', TOKEN]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toBe(`error: could not reach hub at ${hub.url}: self-signed certificate\n`);

      const ok = await sb.run(['login', '--url', hub.url, '--token', TOKEN, '--ca-file', cert]);
      expect(ok.stdout).toBe(`logged in to ${hub.url} as alice; saved target default\n`);
      expect(parse(await sb.readConfig())).toEqual({
        targets: { default: { url: hub.url, token: TOKEN, team: 'main', ca_file: cert } },
      });
      expect((await sb.run(['agents'])).stdout).toBe('name  cluster  pools  state  last heartbeat\n');
    } finally {
      await hub.close();
    }
  });
});
