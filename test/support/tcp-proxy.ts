// A TCP proxy on 127.0.0.1 between an agent and the hub, so tests can break the connection at chosen
// moments and watch both sides recover. Besides cutting, it can delay traffic (every chunk is held for
// a while before it is forwarded, in order) and stall it (nothing is forwarded until the stall ends,
// then everything held goes through in order), as a congested or flaky network would.

import net from 'node:net';

export interface TcpProxy {
  port: number;
  /** Connections currently open through the proxy. */
  readonly open: number;
  /** Total connections accepted so far. */
  readonly accepted: number;
  /** Destroys every open connection (both directions), as a network failure would. */
  cut(): void;
  /** Holds every chunk (both directions) for `ms` before forwarding it; 0 forwards at once again. */
  setDelay(ms: number): void;
  /** Stops forwarding (both directions) for `ms`; data read meanwhile is held and then sent in order. */
  stall(ms: number): void;
  /**
   * New connections go to this port from now on (a hub restarted on a port of its own: the agents keep
   * dialling the proxy, whose port nobody else can take meanwhile).
   */
  retarget(port: number): void;
  /** Resolves when the proxy has accepted `n` connections in total. */
  waitForAccepted(n: number): Promise<void>;
  close(): Promise<void>;
}

/** One direction of one connection: chunks from `src` are queued and written to `dst` when due. */
class Pipe {
  private readonly queue: { due: number; data: Buffer | null }[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    src: net.Socket,
    private readonly dst: net.Socket,
    private readonly gate: { delayMs: number; stalledUntil: number },
  ) {
    src.on('data', (data: Buffer) => this.push(data));
    src.on('end', () => this.push(null));
  }

  private push(data: Buffer | null): void {
    this.queue.push({ due: Date.now() + this.gate.delayMs, data });
    this.pump();
  }

  /** Writes every due chunk; re-arms a timer for the rest. */
  pump(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const now = Date.now();
    while (this.queue.length > 0 && !this.dst.destroyed) {
      const wait = Math.max(this.gate.stalledUntil - now, this.queue[0]!.due - now);
      if (wait > 0) {
        this.timer = setTimeout(() => this.pump(), wait);
        return;
      }
      const { data } = this.queue.shift()!;
      if (data === null) this.dst.end();
      else this.dst.write(data);
    }
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
  }
}

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  const pipes = new Set<Pipe>();
  const gate = { delayMs: 0, stalledUntil: 0 };
  const target = { port: targetPort };
  let accepted = 0;
  const waiters: { n: number; resolve: () => void }[] = [];
  const server = net.createServer((client) => {
    accepted++;
    for (const w of waiters.filter((w) => accepted >= w.n)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
    const upstream = net.connect(target.port, targetHost);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    const both = [new Pipe(client, upstream, gate), new Pipe(upstream, client, gate)];
    for (const p of both) pipes.add(p);
    const done = () => {
      for (const p of both) {
        p.stop();
        pipes.delete(p);
      }
    };
    client.on('close', () => {
      upstream.destroy();
      done();
    });
    upstream.on('close', () => {
      client.destroy();
      done();
    });
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
    setDelay(ms) {
      gate.delayMs = Math.max(0, ms);
    },
    stall(ms) {
      gate.stalledUntil = Math.max(gate.stalledUntil, Date.now() + ms);
      for (const p of pipes) p.pump();
    },
    retarget(port) {
      target.port = port;
    },
    waitForAccepted(n) {
      if (accepted >= n) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
    async close() {
      for (const s of sockets) s.destroy();
      for (const p of pipes) p.stop();
      gate.stalledUntil = 0;
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
