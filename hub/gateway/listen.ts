// Where the agent gateway listens. The default, `[::]:PORT`, is one dual-stack socket taking IPv6 and
// IPv4 agents alike (as the chart binds); on a host without IPv6 that bind fails, and the gateway
// listens on every IPv4 address instead, as Node's own listen() does when given no host.

import type { Logger } from 'pino';

/** The errors of binding an IPv6 address on a host whose kernel has no IPv6 (disabled or not built). */
const NO_IPV6 = /EAFNOSUPPORT|EPROTONOSUPPORT|EADDRNOTAVAIL/;

/**
 * Binds `listen` with `bind` (the gRPC server's, which resolves with the port); `[::]:PORT` falls back
 * to `0.0.0.0:PORT` where IPv6 is absent. Any other failure is the caller's.
 */
export async function bindGateway(
  bind: (address: string) => Promise<number>,
  listen: string,
  log: Logger,
): Promise<number> {
  try {
    return await bind(listen);
  } catch (err) {
    const wildcard = /^\[::\]:(\d+)$/.exec(listen);
    if (!wildcard || !NO_IPV6.test((err as Error).message)) throw err;
    const fallback = `0.0.0.0:${wildcard[1]}`;
    log.warn(
      { listen, fallback, err: (err as Error).message },
      'no IPv6 on this host: the agent gateway listens on every IPv4 address',
    );
    return bind(fallback);
  }
}
