// What the agent dials, as its config says: named in connection errors and verified by TLS.

export interface HubTarget {
  /** `hub.address` as configured (host:port). */
  address: string;
  /** `hub.tls.server_name`, when set. */
  serverName: string | undefined;
  /** false when `hub.tls.insecure_plaintext` is set. */
  tls: boolean;
  /** Whether the agent presents a client certificate (`hub.tls.cert_file`, mTLS). */
  clientCertificate?: boolean;
}

/** The name the hub's certificate must carry: `hub.tls.server_name`, else the host of `hub.address`. */
export function verifiedName(target: Pick<HubTarget, 'address' | 'serverName'>): string {
  if (target.serverName) return target.serverName;
  const at = target.address.lastIndexOf(':');
  return (at > 0 ? target.address.slice(0, at) : target.address).replace(/^\[(.*)\]$/, '$1');
}
