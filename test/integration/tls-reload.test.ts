// Certificates replaced under running processes (issue 13): the hub serves a renewed certificate to new
// connections without a restart, and an agent trusts a replaced CA file on its next connection. Files
// are swapped by rename, as the kubelet updates a Secret volume.

import { copyFile, mkdtemp, rename, rm } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterEach, expect, it } from 'vitest';
import { startTestAgent, startTestHub, type TestHub, scrapeMetrics } from '../support/harness.js';
import { startTcpProxy } from '../support/tcp-proxy.js';

const fixtures = path.join(import.meta.dirname, '../fixtures/tls');
const fingerprint = (file: string) =>
  new X509Certificate(readFileSync(path.join(fixtures, file))).fingerprint256;

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/** Replaces `to` with a fixture in one step (write beside it, then rename over it). */
async function swapIn(fixture: string, to: string): Promise<void> {
  await copyFile(path.join(fixtures, fixture), `${to}.new`);
  await rename(`${to}.new`, to);
}

/** The certificate a new TLS connection to the port is shown. */
function presented(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, ALPNProtocols: ['h2'] });
    socket.once('secureConnect', () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.destroy();
    });
    socket.once('error', reject);
  });
}

async function until(what: string, cond: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const metric = async (hub: TestHub, name: string) =>
  Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(await scrapeMetrics(hub))?.[1]);

it('serves a renewed certificate without a restart; the agent trusts a replaced CA on its next connection', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-tls-reload-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const [certFile, keyFile, caFile] = ['tls.crt', 'tls.key', 'agent-ca.crt'].map((f) => path.join(dir, f));
  await swapIn('hub.pem', certFile!);
  await swapIn('hub.key', keyFile!);
  await swapIn('ca.pem', caFile!);

  const hub = await startTestHub({ tls: { certFile: certFile!, keyFile: keyFile!, reloadIntervalMs: 100 } });
  cleanups.push(() => hub.close());
  const proxy = await startTcpProxy(hub.grpcPort);
  cleanups.push(() => proxy.close());
  const agent = await startTestAgent(hub, {
    address: `127.0.0.1:${proxy.port}`,
    tls: `    ca_file: ${caFile}`,
  });
  cleanups.push(() => agent.stop());
  await agent.welcomed;
  expect(await presented(hub.grpcPort)).toBe(fingerprint('hub.pem'));

  // A renewal: new key and certificate (from another CA here) replace the files under the running hub.
  await swapIn('hub2.key', keyFile!);
  await swapIn('hub2.pem', certFile!);
  await until(
    'the hub presents the new certificate',
    async () => (await presented(hub.grpcPort)) === fingerprint('hub2.pem'),
  );
  // The agent's open connection keeps its session.
  expect(await metric(hub, 'outpost_hub_agents_connected')).toBe(1);

  // The agent is given the new CA; its next connection (after a network cut) trusts it.
  await swapIn('ca2.pem', caFile!);
  proxy.cut();
  await until(
    'the agent reconnects through the new certificate',
    async () =>
      (await metric(hub, 'outpost_hub_agent_reconnects_total')) === 1 &&
      (await metric(hub, 'outpost_hub_agents_connected')) === 1,
  );
});
