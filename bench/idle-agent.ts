// An idle agent for the many-agents bench (bench/agent-swarm.ts): the Connect stream on a node:http2
// session of its own, with gRPC's length-prefixed framing written by hand. What the hub sees is what a
// real agent gives it (one HTTP/2 connection, TLS verified against the hub's CA, a Hello, heartbeats at
// the Welcome's interval); the client skips grpc-js's per-channel machinery (resolver, load balancer,
// subchannel, interceptors), which cost the swarm more CPU per session than the hub spent, so the
// swarm's processes, not the hub, decided how many sessions a loaded machine could hold.

import { connect, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { AgentMessage, HubMessage } from '../proto/gen/outpost/v1/agent.js';
import { benchHello } from './proto-agent.js';
import { deferred } from './support.js';

export interface IdleAgentOptions {
  /** host:port of the hub's gateway. */
  address: string;
  token: string;
  name: string;
  /** PEM of the CA the hub's certificate chains to (verified, as agents do). */
  ca: Buffer;
}

/** gRPC's message prefix: a compression flag (0) and the length, big-endian. */
const PREFIX_BYTES = 5;

function frame(message: AgentMessage): Buffer {
  const body = AgentMessage.encode(message).finish();
  const out = Buffer.allocUnsafe(PREFIX_BYTES + body.length);
  out.writeUInt8(0, 0);
  out.writeUInt32BE(body.length, 1);
  out.set(body, PREFIX_BYTES);
  return out;
}

export class IdleAgent {
  /** Resolves once the hub's Welcome arrived. */
  readonly welcome: Promise<void>;
  /** Resolves when the stream or its connection ends for any reason. */
  readonly ended: Promise<void>;
  private readonly session: ClientHttp2Session;
  private readonly stream: ClientHttp2Stream;
  private heartbeat: NodeJS.Timeout | undefined;
  private seq = 0;

  constructor(opts: IdleAgentOptions) {
    const welcomed = deferred();
    const ended = deferred();
    this.welcome = welcomed.promise;
    this.ended = ended.promise;
    this.session = connect(`https://${opts.address}`, { ca: opts.ca });
    this.session.on('error', () => ended.resolve());
    this.session.on('close', () => ended.resolve());
    this.stream = this.session.request({
      ':method': 'POST',
      ':path': '/outpost.v1.AgentGateway/Connect',
      'content-type': 'application/grpc',
      te: 'trailers',
      authorization: `Bearer ${opts.token}`,
    });
    this.stream.on('error', () => ended.resolve());
    this.stream.on('close', () => ended.resolve());
    void ended.promise.then(() => clearInterval(this.heartbeat));

    // Messages are read until the Welcome; after it the hub's heartbeats are received and dropped.
    let pending = Buffer.alloc(0);
    const untilWelcome = (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= PREFIX_BYTES) {
        const length = pending.readUInt32BE(1);
        if (pending.length < PREFIX_BYTES + length) return;
        const message = HubMessage.decode(pending.subarray(PREFIX_BYTES, PREFIX_BYTES + length));
        pending = pending.subarray(PREFIX_BYTES + length);
        if (message.msg?.$case !== 'welcome') continue;
        this.stream.off('data', untilWelcome);
        this.stream.on('data', () => undefined);
        pending = Buffer.alloc(0);
        this.heartbeat = setInterval(() => this.beat(), message.msg.value.heartbeatIntervalMs || 5_000);
        this.heartbeat.unref();
        welcomed.resolve();
        return;
      }
    };
    this.stream.on('data', untilWelcome);
    this.stream.write(frame({ msg: { $case: 'hello', value: benchHello(opts.name, 1) } }));
  }

  private beat(): void {
    if (this.stream.writableEnded || this.stream.destroyed) return;
    this.stream.write(
      frame({ msg: { $case: 'heartbeat', value: { seq: ++this.seq, sentAtUnixMs: Date.now() } } }),
    );
  }

  close(): void {
    clearInterval(this.heartbeat);
    this.session.destroy();
  }
}
