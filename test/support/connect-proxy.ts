// An HTTP CONNECT proxy on 127.0.0.1, as a corporate egress proxy: it tunnels only to the names it is
// given, which it alone resolves (use names under .invalid, which no resolver knows: reachable through
// the proxy and nowhere else), and records every CONNECT it is asked for.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';

export interface ConnectProxy {
  /** http://127.0.0.1:PORT, for https_proxy. */
  url: string;
  /** The host:port of every CONNECT, in order (tunnelled or refused). */
  readonly connects: readonly string[];
  close(): Promise<void>;
}

/** `hosts`: name -> the address the proxy dials for it. Any other name is answered 502. */
export async function startConnectProxy(hosts: Record<string, string>): Promise<ConnectProxy> {
  const connects: string[] = [];
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  };
  const server = http.createServer((_req, res) => res.writeHead(405).end('CONNECT only\n'));
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    track(client);
    const target = req.url ?? '';
    connects.push(target);
    const m = /^(.+):(\d+)$/.exec(target);
    const address = m ? hosts[m[1]!] : undefined;
    if (!m || !address) {
      client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
      return;
    }
    const upstream = net.connect(Number(m[2]), address, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    track(upstream);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connects,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
