// What a standby replica serves on the hub's HTTP address while it waits for leadership: alive
// (/healthz 200, so an orchestrator keeps it), not ready (/readyz 503, so a load balancer sends traffic
// to the leader), and for anything else a 503 that says to retry. The agent gateway does not listen at
// all until the replica leads: an agent dialling it is refused and dials again (through the load
// balancer, to the leader).

import { createServer, type Server, type ServerResponse } from 'node:http';

export interface StandbyServer {
  /** Frees the address for the hub's own API server. */
  close(): Promise<void>;
}

function reply(status: number, body: unknown, res: ServerResponse): void {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    ...(status === 503 ? { 'retry-after': '5' } : {}),
  });
  res.end(JSON.stringify(body));
}

export async function serveStandby(listen: { host: string; port: number }): Promise<StandbyServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/healthz') return reply(200, { ok: true, standby: true }, res);
    if (req.method === 'GET' && path === '/readyz')
      return reply(503, { ready: false, reason: 'standby: another hub replica leads' }, res);
    reply(
      503,
      {
        error: {
          code: 'standby',
          message:
            'this hub replica is a standby (another one leads); retry shortly, or through the load balancer',
        },
      },
      res,
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => resolve());
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Probes use keep-alive: their idle sockets must not hold the address.
        server.closeAllConnections();
      }),
  };
}
