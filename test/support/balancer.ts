// A TCP load balancer on 127.0.0.1 in front of hub replicas, as a Kubernetes Service in front of hub
// pods: connections go to the replicas in turn, each to the next one whose port accepts it (a replica
// that is down or restarting is skipped).

import net from 'node:net';

export interface Balancer {
  port: number;
  close(): Promise<void>;
}

function connectFirst(ports: number[]): Promise<net.Socket | undefined> {
  const [port, ...rest] = ports;
  if (port === undefined) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', () => resolve(connectFirst(rest)));
  });
}

export async function startBalancer(ports: number[]): Promise<Balancer> {
  const sockets = new Set<net.Socket>();
  let turn = 0;
  const server = net.createServer((client) => {
    client.pause();
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    const start = turn++ % ports.length;
    void connectFirst([...ports.slice(start), ...ports.slice(0, start)]).then((upstream) => {
      if (upstream === undefined || client.destroyed) {
        upstream?.destroy();
        client.destroy();
        return;
      }
      sockets.add(upstream);
      upstream.on('close', () => {
        sockets.delete(upstream);
        client.destroy();
      });
      upstream.on('error', () => upstream.destroy());
      client.on('close', () => upstream.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A port free on 127.0.0.1 right now (replicas need theirs known before they listen). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
