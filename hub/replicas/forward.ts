// Replicas on PostgreSQL: a request that only the replica holding an agent's stream can serve (an
// intercept, whose terminal runs over a Tunnel the agent opens on the connection it has) is forwarded
// there when it reaches another replica. The forward is a plain HTTP proxy of the whole exchange, body
// and answer streamed both ways, with the caller's credentials: the owner authorises the request again
// against the shared store, as if the load balancer had sent it there, and audits it (once, there).

import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HttpError } from '../api/errors.js';

/** Set on a forwarded request: its receiver serves it itself (a forward is never forwarded again). */
export const FORWARDED_HEADER = 'x-outpost-forwarded-by';
/** The address the forwarded request came from to the forwarding replica (the audit log's source). */
export const FORWARDED_FOR_HEADER = 'x-outpost-forwarded-for';

/** The caller's headers that carry its identity and the body's framing. */
const KEPT_HEADERS = ['authorization', 'cookie', 'content-type', 'user-agent', 'accept'];

/** Whether the request was forwarded by another replica. */
export function wasForwarded(req: FastifyRequest): boolean {
  return req.headers[FORWARDED_HEADER] !== undefined;
}

/**
 * Where the caller is, for the audit log: its address, or for a forwarded request the address the
 * forwarding replica says it came from, followed by that replica's (anyone can send the header, so the
 * address the request really came from is kept beside it).
 */
export function callerAddress(req: FastifyRequest): string {
  const original = req.headers[FORWARDED_FOR_HEADER];
  return wasForwarded(req) && typeof original === 'string' ? `${original} via ${req.ip}` : req.ip;
}

/**
 * Proxies the request (its body not read yet) to the same path on `replicaUrl` and relays the answer,
 * streamed. `from`: this replica's URL, named in the header. A replica that cannot be reached is a 502
 * naming it; once the answer started, a broken relay ends both sides.
 */
export async function forwardToReplica(
  req: FastifyRequest,
  reply: FastifyReply,
  replicaUrl: string,
  from: string,
): Promise<void> {
  const headers: Record<string, string> = { [FORWARDED_HEADER]: from, [FORWARDED_FOR_HEADER]: req.ip };
  for (const name of KEPT_HEADERS) {
    const value = req.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  const target = new URL(req.url, replicaUrl);
  const upstream = httpRequest(target, { method: req.method, headers });
  const answered = new Promise<{ status: number; headers: IncomingHttpHeaders; body: NodeJS.ReadableStream }>(
    (resolve, reject) => {
      upstream.once('response', (res) =>
        resolve({ status: res.statusCode ?? 502, headers: res.headers, body: res }),
      );
      upstream.once('error', reject);
    },
  );
  const body = req.body as NodeJS.ReadableStream | undefined;
  if (body && typeof body.pipe === 'function') body.pipe(upstream);
  else upstream.end();
  const res = await answered.catch((err: unknown) => {
    throw new HttpError(
      502,
      'replica_unreachable',
      `the hub replica holding the agent (${replicaUrl}) could not be reached: ${(err as Error).message}`,
    );
  });
  // The owner answered: it audits the call, with the caller's credentials and address; this replica
  // audits only a forward that did not reach it.
  req.audit.byOwner = true;
  reply.hijack();
  const out = reply.raw;
  out.writeHead(res.status, {
    'content-type': res.headers['content-type'] ?? 'application/octet-stream',
    'cache-control': 'no-store',
  });
  // The user went away: the owner's request ends too, which ends the command.
  out.on('close', () => upstream.destroy());
  res.body.on('error', () => out.destroy());
  res.body.pipe(out);
}

/**
 * The URL other replicas reach this one's API at: `replicaUrl`, else the listen address with its host
 * replaced by `replicaHost` (bracketed when an IPv6 address), or a wildcard host by this machine's first
 * non-loopback IPv4 address (a pod's IP), else (an IPv6-only machine) its first global IPv6 address.
 */
export function replicaUrlOf(
  configured: { replicaUrl?: string | undefined; replicaHost?: string | undefined },
  listening: URL,
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces(),
): string {
  if (configured.replicaUrl) return configured.replicaUrl.replace(/\/+$/, '');
  const host = configured.replicaHost;
  if (host) listening.hostname = isIP(host) === 6 ? `[${host}]` : host;
  else if (listening.hostname === '0.0.0.0' || listening.hostname === '[::]') {
    const external = Object.values(interfaces)
      .flat()
      .filter((a) => a !== undefined && !a.internal);
    const v4 = external.find((a) => a?.family === 'IPv4');
    // Link-local addresses (fe80::/10) need a zone and are not routed between nodes.
    const v6 = external.find((a) => a?.family === 'IPv6' && !/^fe[89ab]/i.test(a.address));
    if (v4) listening.hostname = v4.address;
    else if (v6) listening.hostname = `[${v6.address}]`;
  }
  return listening.origin;
}
