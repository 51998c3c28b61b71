// An HTTP front on 127.0.0.1 that fails chosen requests before passing the rest to a real server: a
// reset connection, a 5xx, a 429 with Retry-After. Tests of clients that must retry transient
// failures put it between the client and the real server (a registry, a git server).

import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Failure = 'reset' | { status: number; retryAfter?: string };

export interface FlakyFront {
  /** host:port of the front. */
  host: string;
  /** `METHOD path -> what` for every request, in order ("pass" when it reached the target). */
  seen: string[];
  close(): Promise<void>;
}

/**
 * Fronts `target` (host:port, plain HTTP). Requests whose path starts with `prefix` take the next of
 * `failures` while any are left (`always`: the last one for ever); everything else passes through.
 */
export async function startFlakyFront(
  target: string,
  prefix: string,
  failures: Failure[],
  always = false,
): Promise<FlakyFront> {
  const queue = [...failures];
  const seen: string[] = [];
  const [hostname, port] = target.split(':');
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const what = `${req.method ?? ''} ${req.url ?? ''}`;
    const failure = (req.url ?? '').startsWith(prefix)
      ? always && queue.length === 1
        ? queue[0]
        : queue.shift()
      : undefined;
    if (failure === 'reset') {
      seen.push(`${what} -> reset`);
      req.socket.destroy();
      return;
    }
    if (failure) {
      seen.push(`${what} -> ${failure.status}`);
      res.writeHead(failure.status, failure.retryAfter ? { 'retry-after': failure.retryAfter } : {});
      res.end('try again later\n');
      return;
    }
    seen.push(`${what} -> pass`);
    const upstream = request(
      { hostname, port, method: req.method, path: req.url, headers: { ...req.headers, host: target } },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  };
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: own } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${own}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
