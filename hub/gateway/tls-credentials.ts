// The agent gateway's TLS credentials, from files the hub reads again when they change (a renewed
// certificate needs no restart; common/tls-reload.ts).

import { experimental, type ServerCredentials } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { ReloadingTlsFiles } from '../../common/tls-reload.js';

export interface GatewayTls {
  certFile: string;
  keyFile: string;
  /** When set, agents must present a client certificate signed by this CA (mTLS). */
  clientCaFile?: string;
  /** How often the files are checked for a change (default 10 s). */
  reloadIntervalMs?: number;
}

export async function gatewayCredentials(tls: GatewayTls, log: Logger): Promise<ServerCredentials> {
  const files = await ReloadingTlsFiles.load(
    { certFile: tls.certFile, keyFile: tls.keyFile, caFile: tls.clientCaFile },
    { intervalMs: tls.reloadIntervalMs ?? 10_000, log: log.child({ component: 'tls' }) },
  );
  const clientCa = tls.clientCaFile ? files : null;
  // grpc-js uses the first provider for the server's own certificate and the second (optional) for
  // client certificates, whatever its declared parameter names say (server-credentials.ts).
  return experimental.createCertificateProviderServerCredentials(files, clientCa, clientCa !== null);
}
