// `outpost login --url` pointed at the wrong kind of port gets a message that says so, against real
// servers on 127.0.0.1: the hub's plain HTTP API with https://, and the agents' gRPC port (HTTP/2 only).

import { readFile } from 'node:fs/promises';
import { createServer, createSecureServer, type Http2Server, type Http2SecureServer } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { FakeHub, sandbox, TOKEN } from './fake-hub.js';

const fixtures = join(import.meta.dirname, '../../test/fixtures/tls');
const servers: (FakeHub | Http2Server | Http2SecureServer)[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    if (s instanceof FakeHub) await s.close();
    else await new Promise((resolve) => s.close(resolve));
  }
});

async function listen<S extends Http2Server | Http2SecureServer>(server: S): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

it('says the server speaks plain HTTP when https:// dials the HTTP API', async () => {
  const hub = await FakeHub.start();
  servers.push(hub);
  const url = hub.url.replace('http://', 'https://');
  const r = await (await sandbox()).run(['login', '--url', url, '--token', TOKEN]);
  expect(r.code).toBe(1);
  expect(r.stderr).toBe(
    `error: could not reach hub at ${url}: the server speaks plain HTTP, not TLS: use ${hub.url} (or put TLS in front of the hub)\n`,
  );
});

it("names the agents' gRPC port when https:// dials it", async () => {
  const port = await listen(
    createSecureServer({
      cert: await readFile(join(fixtures, 'hub.pem')),
      key: await readFile(join(fixtures, 'hub.key')),
    }),
  );
  const sb = await sandbox();
  const url = `https://localhost:${port}`;
  const r = await sb.run(['login', '--url', url, '--token', TOKEN, '--ca-file', join(fixtures, 'ca.pem')]);
  expect(r.code).toBe(1);
  expect(r.stderr).toBe(
    `error: could not reach hub at ${url}: the server speaks only gRPC (HTTP/2): that is the hub's agent port (--grpc-listen); use its HTTP API port (--http-listen)\n`,
  );
});

it("names the agents' gRPC port when http:// dials a plaintext one", async () => {
  const port = await listen(createServer());
  const url = `http://127.0.0.1:${port}`;
  const r = await (await sandbox()).run(['login', '--url', url, '--token', TOKEN]);
  expect(r.code).toBe(1);
  expect(r.stderr).toBe(
    `error: could not reach hub at ${url}: the server did not answer HTTP/1.1: is that the hub's agent port (--grpc-listen)? use its HTTP API port (--http-listen)\n`,
  );
});
