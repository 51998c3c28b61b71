// A TCP proxy on 127.0.0.1 between an agent and the hub, so tests can break the connection at chosen
// moments and watch both sides recover.

import net from 'node:net';

export interface TcpProxy {
  port: number;
  /** Connections currently open through the proxy. */
  readonly open: number;
  /** Total connections accepted so far. */
  readonly accepted: number;
  /** Destroys every open connection (both directions), as a network failure would. */
  cut(): void;
  /** Resolves when the proxy has accepted `n` connections in total. */
  waitForAccepted(n: number): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const waiters: { n: number; resolve: () => void }[] = [];
  const server = net.createServer((client) => {
    accepted++;
    for (const w of waiters.filter((w) => accepted >= w.n)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
    const upstream = net.connect(targetPort, targetHost);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    get open() {
      return sockets.size / 2;
    },
    get accepted() {
      return accepted;
    },
    cut() {
      for (const s of sockets) s.destroy();
    },
    waitForAccepted(n) {
      if (accepted >= n) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
