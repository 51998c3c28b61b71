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

class HubTlsCredentials extends ChannelCredentials {
  constructor(
    private readonly context: SecureContext,
    private readonly name: string,
  ) {
    super();
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
    const { context, name } = this;
    return {
      connect: (socket: Socket) =>
        new Promise((resolve, reject) => {
          const tls = connect(
            {
              socket,
              secureContext: context,
              ALPNProtocols: ['h2'],
              servername: isIP(name) ? undefined : name,
              checkServerIdentity: (_host, cert) => checkServerIdentity(name, cert),
            },
            () => (tls.authorized ? resolve({ socket: tls, secure: true }) : reject(tls.authorizationError)),
          );
          tls.on('error', reject);
        }),
      waitForReady: () => Promise.resolve(),
      getCallCredentials: () => callCredentials,
      destroy: () => undefined,
    };
  }
}

/** Channel credentials for the agent's connection to the hub, from its `hub` config. */
export function hubChannelCredentials(target: HubTarget, ca: Buffer | undefined): ChannelCredentials {
  if (!target.tls) return grpcCredentials.createInsecure();
  // Without ca_file, the system roots (what createSecureContext trusts by default).
  return new HubTlsCredentials(createSecureContext(ca ? { ca } : {}), verifiedName(target));
}
