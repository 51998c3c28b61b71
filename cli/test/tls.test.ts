// The CLI's trust of a hub through a target's ca_file, with the committed test CA and hub certificate
// (test/fixtures/tls: localhost / 127.0.0.1), so no openssl is needed.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { FakeHub, sandbox, sendJson, TOKEN } from './fake-hub.js';

const TLS = path.resolve(import.meta.dirname, '../../test/fixtures/tls');

describe('targets with a CA file', () => {
  it('trusts the hub through ca_file and refuses it without', async () => {
    const sb = await sandbox();
    const ca = path.join(TLS, 'ca.pem');
    const [key, cert] = await Promise.all([
      readFile(path.join(TLS, 'hub.key'), 'utf8'),
      readFile(path.join(TLS, 'hub.pem'), 'utf8'),
    ]);
    const hub = await FakeHub.start({ key, cert });
    try {
      hub.on('GET', '/info', (_req, res) => sendJson(res, 200, { version: '0.1.0', tokenName: 'alice' }));
      hub.on('GET', '/agents', (_req, res) => sendJson(res, 200, []));

      const refused = await sb.run(['login', '--url', hub.url, '--token', TOKEN]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toBe(
        `error: could not reach hub at ${hub.url}: unable to verify the first certificate\n`,
      );

      const ok = await sb.run(['login', '--url', hub.url, '--token', TOKEN, '--ca-file', ca]);
      expect(ok.stdout).toBe(`logged in to ${hub.url} as alice; saved target default\n`);
      expect(parse(await sb.readConfig())).toEqual({
        targets: { default: { url: hub.url, token: TOKEN, team: 'main', ca_file: ca } },
      });
      expect((await sb.run(['--print-table-headers', 'agents'])).stdout).toBe(
        'name  cluster  pools  state  last heartbeat\n',
      );
    } finally {
      await hub.close();
    }
  });
});
