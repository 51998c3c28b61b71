// mTLS between agents and the hub (issue 15): with --tls-client-ca the hub admits only agents that
// present a client certificate (hub.tls.cert_file, key_file) signed by that CA; one without, or with
// another CA's, is refused and its log says why. Both sides read their files again when they change:
// new connections use the new certificate or CA, no restart. Files are swapped by rename, as the
// kubelet updates a Secret volume.

import { copyFile, mkdtemp, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { testCa } from '../support/client-certs.js';
import { capturingLogger, startTestAgent, startTestHub, type TestHub } from '../support/harness.js';

const fixtures = path.join(import.meta.dirname, '../fixtures/tls');

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function swapIn(from: string, to: string): Promise<void> {
  await copyFile(from, `${to}.new`);
  await rename(`${to}.new`, to);
}

/** An agent that trusts the hub's certificate and presents `client` (if any); its log is captured. */
async function agentWith(hub: TestHub, name: string, client?: { certFile: string; keyFile: string }) {
  const log = capturingLogger();
  const tls = [`    ca_file: ${path.join(fixtures, 'ca.pem')}`, '    server_name: localhost'];
  if (client) tls.push(`    cert_file: ${client.certFile}`, `    key_file: ${client.keyFile}`);
  const agent = await startTestAgent(hub, { name, tls: tls.join('\n'), log: log.log });
  cleanups.push(() => agent.stop());
  return { agent, log };
}

it('admits agents with a certificate of the client CA, refuses others with a clear reason, and reloads both sides', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-mtls-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const ca1 = testCa(dir, 'one');
  const ca2 = testCa(dir, 'two');
  const clientCa = path.join(dir, 'client-ca.crt');
  await swapIn(ca1.certFile, clientCa);
  const hub = await startTestHub({
    tls: {
      certFile: path.join(fixtures, 'hub.pem'),
      keyFile: path.join(fixtures, 'hub.key'),
      clientCaFile: clientCa,
      reloadIntervalMs: 100,
    },
  });
  cleanups.push(() => hub.close());

  const good = await agentWith(hub, 'good', ca1.issue('good', 'good'));
  await good.agent.welcomed;

  const bare = await agentWith(hub, 'bare');
  expect((await bare.log.line('cannot connect to the hub')).msg).toMatch(
    /the hub at \S+ requires a client certificate \(mTLS, its --tls-client-ca\): set hub\.tls\.cert_file and hub\.tls\.key_file/,
  );

  // Another CA's certificate: refused; then its files are replaced by one of the client CA, and the
  // agent's next connection presents it (no restart).
  const files = { certFile: path.join(dir, 'swapped.crt'), keyFile: path.join(dir, 'swapped.key') };
  const foreign = ca2.issue('foreign', 'foreign');
  await swapIn(foreign.certFile, files.certFile);
  await swapIn(foreign.keyFile, files.keyFile);
  const swapped = await agentWith(hub, 'swapped', files);
  expect((await swapped.log.line('cannot connect to the hub')).msg).toMatch(
    /the hub at \S+ closed the connection after the TLS handshake, most likely refusing this agent's client certificate.*--tls-client-ca/,
  );
  const renewed = ca1.issue('renewed', 'swapped');
  await swapIn(renewed.keyFile, files.keyFile);
  await swapIn(renewed.certFile, files.certFile);
  await swapped.agent.welcomed;

  // The hub is given the other CA: new connections are checked against it.
  await swapIn(ca2.certFile, clientCa);
  const second = await agentWith(hub, 'second', ca2.issue('second', 'second'));
  await second.agent.welcomed;
});
