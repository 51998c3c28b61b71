// TLS to the hub that verifies the name the agent dials (or hub.tls.server_name) and sends it as SNI
// only when it is a host name. grpc-js always sets `servername`, and for an IP address Node prints
// DEP0123 (an IP is not a valid SNI, RFC 6066) into the agent's JSON log; the IP is still verified against
// the certificate's IP SANs here.

import { isIP } from 'node:net';
import { checkServerIdentity, connect, createSecureContext, type SecureContext } from 'node:tls';
import type { Socket } from 'node:net';
import {
  CallCredentials,
  ChannelCredentials,
  credentials as grpcCredentials,
  type experimental,
} from '@grpc/grpc-js';
import { verifiedName, type HubTarget } from './hub-target.js';

/**
 * The CA the agent trusts: a fixed bundle, a CertificateProvider that reloads one (each new connection
 * uses its latest update), or undefined for the system roots.
 */
export type HubCa = Buffer | experimental.CertificateProvider | undefined;

class HubTlsCredentials extends ChannelCredentials {
  private context: Promise<SecureContext>;

  constructor(
    ca: HubCa,
    private readonly name: string,
  ) {
    super();
    if (ca === undefined || Buffer.isBuffer(ca)) {
      this.context = Promise.resolve(createSecureContext(ca ? { ca } : {}));
      return;
    }
    // Watched for the channel's (the agent's) lifetime; connections wait for the first update.
    this.context = new Promise((resolve) =>
      ca.addCaCertificateListener((update) => {
        if (!update) return;
        const next = createSecureContext({ ca: update.caCertificate });
        this.context = Promise.resolve(next);
        resolve(next);
      }),
    );
  }

  _isSecure(): boolean {
    return true;
  }

  _equals(other: ChannelCredentials): boolean {
    return other === this;
  }

  _createSecureConnector(
    _target: unknown,
    _options: unknown,
    callCredentials: CallCredentials = CallCredentials.createEmpty(),
  ): experimental.SecureConnector {
    const name = this.name;
    return {
      connect: async (socket: Socket) => {
        const secureContext = await this.context;
        return new Promise((resolve, reject) => {
          const tls = connect(
            {
              socket,
              secureContext,
              ALPNProtocols: ['h2'],
              servername: isIP(name) ? undefined : name,
              checkServerIdentity: (_host, cert) => checkServerIdentity(name, cert),
            },
            () => (tls.authorized ? resolve({ socket: tls, secure: true }) : reject(tls.authorizationError)),
          );
          tls.on('error', reject);
        });
      },
      waitForReady: () => Promise.resolve(),
      getCallCredentials: () => callCredentials,
      destroy: () => undefined,
    };
  }
}

/** Channel credentials for the agent's connection to the hub, from its `hub` config. */
export function hubChannelCredentials(target: HubTarget, ca: HubCa): ChannelCredentials {
  if (!target.tls) return grpcCredentials.createInsecure();
  return new HubTlsCredentials(ca, verifiedName(target));
}
