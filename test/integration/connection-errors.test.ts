// What an operator reads when an agent cannot get a session with the hub: each failure names the setting
// or flag that fixes it, without grpc-js noise, against a real hub on 127.0.0.1.

import { generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  capturingLogger,
  startTestAgent,
  startTestHub,
  type TestAgentOptions,
  type TestHub,
  scrapeMetrics,
} from '../support/harness.js';
import { spawnAgentProcess } from '../support/agent-process.js';
import { spawnChildHub } from '../support/child-hub.js';
import { cleanupAfterEach } from '../support/cleanups.js';
import { experimental, status as GrpcStatus } from '@grpc/grpc-js';
import { hubChannelCredentials } from '../../agent/session/channel-credentials.js';
import { AgentGatewayClient } from '../../proto/gen/outpost/v1/agent.js';

const fixtures = path.join(import.meta.dirname, '../fixtures/tls');
const tlsFiles = { certFile: path.join(fixtures, 'hub.pem'), keyFile: path.join(fixtures, 'hub.key') };

const defer = cleanupAfterEach();

async function hubFor(overrides: Parameters<typeof startTestHub>[0] = {}): Promise<TestHub> {
  const hub = await startTestHub(overrides);
  defer(() => hub.close());
  return hub;
}

/** Starts an agent that logs into a capture, and returns its first session failure and log line. */
async function firstFailure(hub: TestHub, opts: TestAgentOptions) {
  const captured = capturingLogger();
  const agent = await startTestAgent(hub, { ...opts, log: captured.log });
  defer(() => agent.stop());
  const [failure] = (await once(agent.session.events, 'failure')) as [Error & { code?: string }];
  const line = await captured.line(failure.message);
  return { failure, line, captured, agent };
}

/** A port on 127.0.0.1 where nothing listens. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('agent connection errors', () => {
  it('suggests hub.tls.ca_file when the hub certificate is not trusted', async () => {
    const hub = await hubFor({ tls: tlsFiles });
    const { failure, line } = await firstFailure(hub, {
      address: `localhost:${hub.grpcPort}`,
      tls: '    {}',
    });
    expect(failure.code).toBe('HUB_CERTIFICATE_UNTRUSTED');
    expect(line.msg).toBe(
      `cannot connect to the hub: the certificate of the hub at localhost:${hub.grpcPort} is not trusted ` +
        '(unable to verify the first certificate): set hub.tls.ca_file to the CA that signed it; ' +
        `retrying in ${(Number(line.delayMs) / 1000).toFixed(1)}s`,
    );
    expect(line.msg).not.toContain('Resolution note');
  });

  it('suggests hub.tls.server_name when the certificate names another host', async () => {
    const hub = await hubFor({ tls: tlsFiles });
    const { failure, line } = await firstFailure(hub, {
      address: `localhost:${hub.grpcPort}`,
      tls: `    ca_file: ${path.join(fixtures, 'ca.pem')}\n    server_name: hub.example`,
    });
    expect(failure.code).toBe('HUB_CERTIFICATE_NAME_MISMATCH');
    expect(failure.message).toBe(
      `the certificate of the hub at localhost:${hub.grpcPort} does not name "hub.example" ` +
        '(it names DNS:localhost, IP Address:127.0.0.1): set hub.tls.server_name to a name in the ' +
        'certificate, or dial one of them in hub.address',
    );
    expect(line.msg).not.toContain('Resolution note');
  });

  it('asks whether --grpc-listen is the port it dialled when the connection is refused', async () => {
    const hub = await hubFor();
    const port = await closedPort();
    const { failure, line } = await firstFailure(hub, { address: `127.0.0.1:${port}` });
    expect(failure.code).toBe('HUB_CONNECTION_REFUSED');
    expect(failure.message).toBe(
      `the hub at 127.0.0.1:${port} refused the connection (127.0.0.1:${port}): is the hub running, ` +
        'and is its --grpc-listen that port?',
    );
    expect(line.msg).toMatch(/; retrying in \d+(\.\d)?s$/);
  });

  it('says the hub speaks plaintext when a TLS agent dials a plaintext gateway', async () => {
    const hub = await hubFor();
    const { failure } = await firstFailure(hub, {
      address: `localhost:${hub.grpcPort}`,
      tls: `    ca_file: ${path.join(fixtures, 'ca.pem')}`,
    });
    expect(failure.code).toBe('HUB_SPEAKS_PLAINTEXT');
    expect(failure.message).toContain('answered without TLS (it runs with --insecure-plaintext)');
  });

  it('backs off for minutes after a rejected token and says how to get a new one, once per attempt', async () => {
    const hub = await hubFor();
    const { failure, line, captured } = await firstFailure(hub, { token: 'opa_not-a-real-token' });
    expect(failure.code).toBe('HUB_REJECTED_TOKEN');
    expect(line.level).toBe(50);
    expect(line.delayMs).toBeGreaterThanOrEqual(60_000);
    expect(line.msg).toMatch(
      /^the hub rejected this agent's token: missing, unknown or revoked agent token; retrying in (1m\d*s?|2m); create a new one with `outpost agent-tokens create` and put it in token_file$/,
    );
    // One line for the attempt, and the hub was asked once.
    expect(captured.lines.filter((l) => (l.level as number) >= 40)).toHaveLength(1);
    const metrics = await scrapeMetrics(hub);
    expect(metrics).toMatch(/outpost_hub_agent_auth_failures_total 1\n/);
  });
});

describe('hub TLS', () => {
  it('logs a failed handshake with the peer address and what the client likely got wrong', async () => {
    const captured = capturingLogger();
    const hub = await startTestHub({ tls: tlsFiles }, captured.log);
    defer(() => hub.close());
    const doubting = await startTestAgent(hub, { address: `localhost:${hub.grpcPort}`, tls: '    {}' });
    defer(() => doubting.stop());
    const untrusted = await captured.line('TLS handshake with 127.0.0.1:');
    expect(untrusted.msg).toMatch(
      /^TLS handshake with 127\.0\.0\.1:\d+ failed: the client closed the connection during the handshake \(often an agent that does not trust this certificate: set its hub\.tls\.ca_file\)$/,
    );
    expect(untrusted.component).toBe('gateway');

    const plaintext = await startTestAgent(hub, { name: 'plain', address: `127.0.0.1:${hub.grpcPort}` });
    defer(() => plaintext.stop());
    const [failure] = (await once(plaintext.session.events, 'failure')) as [Error & { code?: string }];
    const spoke = await captured.line('the client spoke plaintext');
    expect(spoke.msg).toMatch(/^TLS handshake with 127\.0\.0\.1:\d+ failed: the client spoke plaintext/);
    // And the agent's side of the same mistake.
    expect(failure.code).toBe('HUB_CONNECTION_FAILED');
    expect(failure.message).toBe(
      `no plaintext gRPC connection with the hub at 127.0.0.1:${hub.grpcPort}: if the hub serves TLS ` +
        '(--tls-cert), remove hub.tls.insecure_plaintext and set hub.tls.ca_file',
    );
  });

  it('does not warn about a TCP health check that connects and closes', async () => {
    const captured = capturingLogger();
    const hub = await startTestHub({ tls: tlsFiles }, captured.log);
    defer(() => hub.close());
    const probe = connect(hub.grpcPort, '127.0.0.1');
    await once(probe, 'connect');
    probe.end();
    await captured.line('connected and closed without a TLS handshake');
    expect(captured.lines.filter((l) => l.msg?.includes('TLS handshake with'))).toEqual([]);
  });

  it('refuses to start, naming both files, when the key does not match the certificate', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-tls-'));
    defer(() => rm(dir, { recursive: true, force: true }));
    const otherKey = path.join(dir, 'other.key');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    await writeFile(otherKey, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const refused = await spawnChildHub(path.join(dir, 'data'), {
      args: ['--tls-cert', tlsFiles.certFile, '--tls-key', otherKey],
    }).then(
      () => undefined,
      (err: unknown) => err as Error,
    );
    // Exit status 1 and one line on stderr (the whole of it: no stack trace).
    expect(refused?.message).toBe(
      `hub exited (code 1) before it was ready: outpost-hub: the key in ${otherKey} (--tls-key) does not match the certificate in ${tlsFiles.certFile} (--tls-cert)\n`,
    );
    // Stopped before it opened (and initialised) a data directory.
    expect(existsSync(path.join(dir, 'data'))).toBe(false);
  });
});

describe('TLS to a hub named by its IP address', () => {
  it('connects without a DeprecationWarning in the JSON log, dialling an IP or naming one as server_name', async () => {
    const hub = await hubFor({ tls: tlsFiles });
    const base = await mkdtemp(path.join(os.tmpdir(), 'outpost-ip-sni-'));
    defer(() => rm(base, { recursive: true, force: true }));
    const ca = `    ca_file: ${path.join(fixtures, 'ca.pem')}`;
    const agents = await Promise.all(
      [
        { name: 'by-ip', address: `127.0.0.1:${hub.grpcPort}`, tls: ca },
        { name: 'ip-name', address: `localhost:${hub.grpcPort}`, tls: `${ca}\n    server_name: 127.0.0.1` },
      ].map(async (opts) => {
        const agent = await spawnAgentProcess(hub, {
          ...opts,
          dir: path.join(base, opts.name),
          token: await hub.newAgentToken(opts.name),
        });
        defer(async () => {
          agent.child.kill('SIGKILL');
          await agent.exited;
        });
        return agent;
      }),
    );
    for (const agent of agents) {
      await agent.logged('connected to the hub');
      expect(agent.output()).not.toContain('DeprecationWarning');
      for (const line of agent.output().trimEnd().split('\n'))
        expect(() => JSON.parse(line) as unknown).not.toThrow();
    }
  });

  it('takes its CA from a provider that reloads it, still without an IP as SNI', async () => {
    const hub = await hubFor({ tls: tlsFiles });
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    defer(() => void process.off('warning', onWarning));
    const provider = new experimental.FileWatcherCertificateProvider({
      caCertificateFile: path.join(fixtures, 'ca.pem'),
      refreshIntervalMs: 60_000,
    });
    const target = { address: `127.0.0.1:${hub.grpcPort}`, serverName: undefined, tls: true };
    const client = new AgentGatewayClient(target.address, hubChannelCredentials(target, provider));
    defer(() => client.close());
    // The TLS handshake succeeds; the hub then refuses the call for its missing token.
    const call = client.downloadArtifact({ leaseId: 'l', digest: 'd' });
    const [err] = (await once(call, 'error')) as [Error & { code: number }];
    expect(err.code).toBe(GrpcStatus.UNAUTHENTICATED);
    expect(warnings.map((w) => w.message)).toEqual([]);
  });

  it('still verifies the IP against the certificate', async () => {
    const hub = await hubFor({ tls: tlsFiles });
    const { failure } = await firstFailure(hub, {
      address: `127.0.0.1:${hub.grpcPort}`,
      tls: `    ca_file: ${path.join(fixtures, 'ca.pem')}\n    server_name: 10.0.0.1`,
    });
    expect(failure.code).toBe('HUB_CERTIFICATE_NAME_MISMATCH');
    expect(failure.message).toContain('does not name "10.0.0.1" (it names 127.0.0.1)');
  });
});
