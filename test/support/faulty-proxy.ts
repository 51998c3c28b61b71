// A TCP proxy on 127.0.0.1:0 in front of a real server that breaks what passes through it at a chosen
// byte (tcp-proxy.ts breaks connections at chosen moments instead), as a bad
// network does: cut a connection after some bytes, or flip one byte. Each connection is judged by its
// first bytes (e.g. "GET " or "POST "), so a test can break one direction of an HTTP exchange only.
import net from 'node:net';

export interface ProxyFault {
  /** Applies to connections whose request starts with this ("GET ", "POST "). */
  request: string;
  /** Which way the fault goes: what the server answers, or what the client sends. */
  direction: 'response' | 'request';
  /** Destroy both sockets once this many bytes went that way. */
  cutAfterBytes?: number;
  /** Invert the byte at this offset of that direction. */
  flipByteAt?: number;
}

export interface FaultyProxy {
  /** host:port of the proxy. */
  address: string;
  /** How many connections a fault applied to. */
  faulted(): number;
  close(): Promise<void>;
}

export async function startFaultyProxy(
  target: { host: string; port: number },
  fault: ProxyFault,
): Promise<FaultyProxy> {
  let faulted = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    sockets.add(client).add(upstream);
    let applies: boolean | undefined;
    let seen = 0;
    const pass = (from: net.Socket, to: net.Socket, direction: ProxyFault['direction']) => {
      from.on('data', (chunk: Buffer) => {
        if (applies === undefined && direction === 'request') {
          applies = chunk.toString('latin1').startsWith(fault.request);
          if (applies) faulted++;
        }
        if (!applies || direction !== fault.direction) return void to.write(chunk);
        let out = chunk;
        if (
          fault.flipByteAt !== undefined &&
          fault.flipByteAt >= seen &&
          fault.flipByteAt < seen + chunk.length
        ) {
          out = Buffer.from(chunk);
          const i = fault.flipByteAt - seen;
          out[i] = (out[i] ?? 0) ^ 0xff;
        }
        seen += chunk.length;
        if (fault.cutAfterBytes !== undefined && seen > fault.cutAfterBytes) {
          to.write(out.subarray(0, out.length - (seen - fault.cutAfterBytes)), () => {
            client.destroy();
            upstream.destroy();
          });
          return;
        }
        to.write(out);
      });
      from.on('end', () => to.end());
      from.on('error', () => to.destroy());
      from.on('close', () => sockets.delete(from));
    };
    pass(client, upstream, 'request');
    pass(upstream, client, 'response');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    faulted: () => faulted,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
