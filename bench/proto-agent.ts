// A protocol-level agent for the benchmarks: speaks the wire contract directly so it can finish steps
// at once (measuring the hub, not process spawning) or stream logs at full speed.

import { performance } from 'node:perf_hooks';
import { credentials, Metadata, type ChannelCredentials, type ClientDuplexStream } from '@grpc/grpc-js';
import {
  Platform,
  ProtocolVersion,
  StepStatus,
  type AgentGatewayClient,
  type AgentMessage,
  type Assign,
  type Heartbeat,
  type Hello,
  type HubMessage,
  type Welcome,
} from '../proto/gen/outpost/v1/agent.js';
import { GatewayClient } from '../agent/session/gateway-client.js';
import { deferred, sharedClockMs } from './support.js';

type HubMsg = NonNullable<HubMessage['msg']>;
export type HubHandlers = {
  [C in HubMsg['$case']]?: (value: Extract<HubMsg, { $case: C }>['value']) => void;
};

export interface BenchAgentOptions {
  address: string;
  token: string;
  name: string;
  /** Capacity of the single linux pool "local". */
  capacity: number;
  /**
   * grpc-js shares one HTTP/2 connection between clients with the same target and options; a real
   * fleet has one connection per agent, so this gives the client its own subchannel pool.
   */
  ownConnection: boolean;
  /** TLS to a hub serving it (many-agents bench); plaintext when absent. */
  credentials?: ChannelCredentials;
  handlers: HubHandlers;
}

/** A bench agent's Hello: one linux pool "local" of `capacity` on the process executor. */
export function benchHello(name: string, capacity: number): Hello {
  return {
    protocolVersion: ProtocolVersion.PROTOCOL_VERSION_1,
    agentName: name,
    agentVersion: 'bench',
    cluster: 'bench',
    pools: [
      {
        name: 'local',
        platform: Platform.PLATFORM_LINUX,
        tags: [],
        executor: 'process',
        capacity,
        admission: undefined,
        builtinTypes: [],
        taskImages: false,
      },
    ],
    held: [],
  };
}

export class BenchAgent {
  readonly welcome: Promise<Welcome>;
  /** Resolves when the stream ends for any reason. */
  readonly ended: Promise<void>;
  private readonly client: AgentGatewayClient;
  private readonly call: ClientDuplexStream<AgentMessage, HubMessage>;
  private heartbeat: NodeJS.Timeout | undefined;
  private heartbeatSeq = 0;

  constructor(opts: BenchAgentOptions) {
    // The agent's own client (its serializer reuses one protobuf writer): the bench's protocol agent
    // sends what the real agent sends, at the real agent's cost.
    this.client = new GatewayClient(
      opts.address,
      opts.credentials ?? credentials.createInsecure(),
      // Channelz (introspection nobody reads here) costs every client object and call its trackers.
      {
        'grpc.enable_channelz': 0,
        ...(opts.ownConnection ? { 'grpc.use_local_subchannel_pool': 1 } : {}),
      },
    );
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${opts.token}`);
    this.call = this.client.connect(metadata);
    const welcomed = deferred<Welcome>();
    const ended = deferred();
    this.welcome = welcomed.promise;
    this.ended = ended.promise;

    this.call.on('data', (message: HubMessage) => {
      const msg = message.msg;
      if (!msg) return;
      if (msg.$case === 'welcome') {
        // Heartbeats keep the session alive through long runs (the hub drops silent ones after 3 beats).
        this.heartbeat = setInterval(
          () =>
            this.send({
              msg: { $case: 'heartbeat', value: { seq: ++this.heartbeatSeq, sentAtUnixMs: Date.now() } },
            }),
          msg.value.heartbeatIntervalMs || 5_000,
        );
        this.heartbeat.unref();
        welcomed.resolve(msg.value);
      }
      const handler = opts.handlers[msg.$case] as ((value: HubMsg['value']) => void) | undefined;
      handler?.(msg.value);
    });
    // Errors end the stream (CANCELLED on close is expected); waiters see it through `ended`.
    this.call.on('error', () => ended.resolve());
    this.call.on('status', () => ended.resolve());
    this.call.on('end', () => ended.resolve());
    void ended.promise.then(() => clearInterval(this.heartbeat));

    this.send({ msg: { $case: 'hello', value: benchHello(opts.name, opts.capacity) } });
  }

  /** Returns false when the transport is backed up (wait for drained()). */
  send(message: AgentMessage): boolean {
    if (this.call.writableEnded || this.call.destroyed) return false;
    return this.call.write(message);
  }

  drained(): Promise<void> {
    return new Promise((resolve) => this.call.once('drain', resolve));
  }

  accept(leaseId: string): void {
    this.send({ msg: { $case: 'accepted', value: { leaseId } } });
  }

  finish(leaseId: string, lastLogSeq = 0): void {
    this.send({
      msg: {
        $case: 'finished',
        value: {
          leaseId,
          status: StepStatus.STEP_STATUS_SUCCEEDED,
          exitStatus: 0,
          error: '',
          lastLogSeq,
          outputs: [],
          atUnixMs: Date.now(),
          resourceResultJson: '',
        },
      },
    });
  }

  /** Accepts and finishes an assignment at once: the step takes no time on the agent. */
  acceptAndFinish(assign: Assign): void {
    this.accept(assign.leaseId);
    this.finish(assign.leaseId);
  }

  close(): void {
    clearInterval(this.heartbeat);
    this.call.cancel();
    this.client.close();
  }
}

/**
 * Heartbeat round trips, one in flight at a time, to a server that echoes them (bench/floor.ts's echo
 * server): give `handler` as the agent's heartbeat handler.
 */
export class HeartbeatEcho {
  private echoed: ((seq: number) => void) | undefined;
  readonly handler = (hb: Heartbeat): void => this.echoed?.(hb.seq);

  /** One round trip, timed from write() to the echo's arrival, in ms. */
  async roundTrip(agent: BenchAgent, seq: number): Promise<number> {
    const got = deferred<number>();
    this.echoed = got.resolve;
    const start = performance.now();
    agent.send({ msg: { $case: 'heartbeat', value: { seq, sentAtUnixMs: Date.now() } } });
    const back = await got.promise;
    if (back !== seq) throw new Error(`floor echo out of order: sent ${seq}, got ${back}`);
    return performance.now() - start;
  }

  /** `warmup` round trips, then `samples` timed ones. */
  async roundTrips(agent: BenchAgent, warmup: number, samples: number): Promise<number[]> {
    const rtts: number[] = [];
    for (let i = 1; i <= warmup + samples; i++) {
      const rtt = await this.roundTrip(agent, i);
      if (i > warmup) rtts.push(rtt);
    }
    return rtts;
  }
}

/** An Assign's arrival. `sinceFinishedMs`: since this agent sent the Finished of the build's previous step. */
export interface AssignArrival {
  buildId: number;
  /** On the clock shared by processes (support.ts sharedClockMs). */
  atMs: number;
  sinceFinishedMs: number | undefined;
}

/**
 * An agent that accepts and finishes every Assign at once (bench/dispatch.ts's, in the bench process or
 * in bench/remote-agent.ts), noting each Assign's arrival in `arrivals`.
 */
export function finishingAgent(opts: Omit<BenchAgentOptions, 'handlers'>): {
  agent: BenchAgent;
  arrivals: AssignArrival[];
} {
  const arrivals: AssignArrival[] = [];
  const finishedAt = new Map<number, number>();
  const agent: BenchAgent = new BenchAgent({
    ...opts,
    handlers: {
      assign: (assign) => {
        const atMs = sharedClockMs();
        const buildId = assign.context?.buildId ?? 0;
        const finished = finishedAt.get(buildId);
        arrivals.push({
          buildId,
          atMs,
          sinceFinishedMs: finished === undefined ? undefined : atMs - finished,
        });
        agent.acceptAndFinish(assign);
        finishedAt.set(buildId, sharedClockMs());
      },
    },
  });
  return { agent, arrivals };
}
