// Checks around the agent gateway's TLS: its files before the hub starts (errors that name the files and
// their flags), and handshakes that fail once it runs (an agent that does not trust the certificate, a
// plaintext client), which grpc-js would otherwise drop without a word.

import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Http2SecureServer } from 'node:http2';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Server } from '@grpc/grpc-js';
import type { Logger } from 'pino';

/** The gateway's TLS files (GatewayTls in server.ts). */
interface TlsFiles {
  certFile: string;
  keyFile: string;
  clientCaFile?: string;
}

/** A TLS file the hub cannot use; the message names the file and its flag. */
export class GatewayTlsError extends Error {
  readonly code = 'GATEWAY_TLS_INVALID';
}

async function readNamed(file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new GatewayTlsError(
      `cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

/** Reads and cross-checks the gateway's TLS files, so a mistake stops the hub before it opens anything. */
export async function checkGatewayTls(tls: TlsFiles): Promise<void> {
  const certWhat = 'the TLS certificate (--tls-cert)';
  const keyWhat = 'the TLS key (--tls-key)';
  const cert = await readNamed(tls.certFile, certWhat);
  const key = await readNamed(tls.keyFile, keyWhat);
  if (tls.clientCaFile) await readNamed(tls.clientCaFile, 'the client CA (--tls-client-ca)');
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    throw new GatewayTlsError(`${certWhat} ${tls.certFile} is not a PEM certificate`);
  }
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new GatewayTlsError(`${keyWhat} ${tls.keyFile} is not a PEM private key`);
  }
  if (!x509.checkPrivateKey(privateKey))
    throw new GatewayTlsError(
      `the key in ${tls.keyFile} (--tls-key) does not match the certificate in ${tls.certFile} (--tls-cert)`,
    );
}

/**
 * Logs each failed TLS handshake on the gRPC server's listeners with the peer's address. grpc-js keeps
 * its HTTP/2 servers private (`http2Servers`); the gateway test pins this, so a grpc-js upgrade that moves
 * them fails there rather than going quiet.
 */
export function logFailedHandshakes(server: Server, log: Logger): void {
  const listeners = (server as unknown as { http2Servers?: Map<Http2SecureServer, unknown> }).http2Servers;
  if (!(listeners instanceof Map)) {
    log.warn('cannot observe TLS handshakes with this grpc-js version; failed handshakes go unlogged');
    return;
  }
  for (const http2 of listeners.keys()) {
    // Read the peer while the socket is open: a handshake error often arrives after it closed.
    http2.prependListener('connection', (raw: Socket) => {
      // The getter caches the peer on the socket.
      raw.remoteAddress?.toString();
    });
    http2.on('tlsClientError', (err: Error & { code?: string }, socket: TLSSocket) => {
      const raw = (socket as TLSSocket & { _parent?: Socket })._parent;
      const address = socket.remoteAddress ?? raw?.remoteAddress;
      const port = socket.remotePort ?? raw?.remotePort;
      const fields = {
        peer: address ? `${address}:${port}` : 'unknown',
        code: err.code,
        reason: err.message.trim(),
      };
      // A TCP health check connects and closes without a word: not a failed handshake worth a warning.
      if (err.code === 'ECONNRESET' && (raw ?? socket).bytesRead === 0)
        return log.debug(fields, 'a client connected and closed without a TLS handshake');
      log.warn(fields, `TLS handshake with ${fields.peer} failed: ${handshakeHint(err)}`);
    });
  }
}

function handshakeHint(err: Error & { code?: string }): string {
  if (err.code === 'ERR_SSL_HTTP_REQUEST' || /http request|wrong version number/.test(err.message))
    return 'the client spoke plaintext (an agent with hub.tls.insecure_plaintext, or http:// to this port)';
  if (err.code === 'ECONNRESET')
    return 'the client closed the connection during the handshake (often an agent that does not trust this certificate: set its hub.tls.ca_file)';
  if (/certificate/.test(err.message)) return `the client certificate was refused (${err.message.trim()})`;
  return err.message.trim();
}
