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
 * The TLS files the agent uses: undefined (the system roots, no client certificate), a fixed CA bundle,
 * or a CertificateProvider (common/tls-reload.ts) with the CA to trust and/or the client certificate to
 * present for mTLS; each new connection uses its latest updates.
 */
export type HubTls = Buffer | experimental.CertificateProvider | undefined;

class HubTlsCredentials extends ChannelCredentials {
  private context: Promise<SecureContext>;

  constructor(
    tls: HubTls,
    private readonly name: string,
  ) {
    super();
    if (tls === undefined || Buffer.isBuffer(tls)) {
      this.context = Promise.resolve(createSecureContext(tls ? { ca: tls } : {}));
      return;
    }
    // Watched for the channel's (the agent's) lifetime. The provider answers each listener once at once
    // (null for a file it does not have), then on every change; connections wait for both first answers.
    let ca: Buffer | undefined;
    let identity: experimental.IdentityCertificateUpdate | undefined;
    let firstAnswers = 2;
    this.context = new Promise((resolve) => {
      const update = () => {
        if (firstAnswers > 0 && --firstAnswers > 0) return;
        const next = createSecureContext({
          ...(ca ? { ca } : {}),
          ...(identity ? { cert: identity.certificate, key: identity.privateKey } : {}),
        });
        this.context = Promise.resolve(next);
        resolve(next);
      };
      tls.addCaCertificateListener((u) => {
        ca = u?.caCertificate;
        update();
      });
      tls.addIdentityCertificateListener((u) => {
        identity = u ?? undefined;
        update();
      });
    });
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
export function hubChannelCredentials(target: HubTarget, tls: HubTls): ChannelCredentials {
  if (!target.tls) return grpcCredentials.createInsecure();
  return new HubTlsCredentials(tls, verifiedName(target));
}
