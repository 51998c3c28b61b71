// A protocol-level agent: speaks the wire contract directly, so tests can send what a real agent never
// would (bad tokens, stale leases, unanswered assignments) and benchmarks can finish steps at once.

import { credentials, Metadata, type ClientDuplexStream } from '@grpc/grpc-js';
import { SESSION_METADATA_KEY } from '../../common/agent-session.js';
import { setPipeline, shellPipeline, triggerJob, waitForEvents, type TestHub } from './harness.js';
import {
  AgentGatewayClient,
  LogStream,
  Platform,
  ProtocolVersion,
  StepStatus,
  type AgentMessage,
  type Finished,
  type Hello,
  type HubMessage,
} from '../../proto/gen/outpost/v1/agent.js';

export interface RawAgent {
  call: ClientDuplexStream<AgentMessage, HubMessage>;
  /** Every message received so far. */
  received: HubMessage[];
  send(message: AgentMessage): void;
  /** Resolves with the first received message (past or future) that matches. */
  next<C extends NonNullable<HubMessage['msg']>['$case']>(
    kind: C,
    match?: (value: Extract<NonNullable<HubMessage['msg']>, { $case: C }>['value']) => boolean,
  ): Promise<Extract<NonNullable<HubMessage['msg']>, { $case: C }>['value']>;
  /** Resolves with the gRPC status the stream ended with. */
  ended: Promise<{ code: number; details: string }>;
  close(): void;
}

/** A linux process pool of capacity 1, as a Hello offers it. */
export function rawPool(name: string): Hello['pools'][number] {
  return {
    name,
    platform: Platform.PLATFORM_LINUX,
    tags: [],
    executor: 'process',
    capacity: 1,
    admission: undefined,
    builtinTypes: [],
    taskImages: false,
  };
}

export function rawAgent(address: string, token: string, hello: Partial<Hello> | null = {}): RawAgent {
  const client = new AgentGatewayClient(address, credentials.createInsecure());
  const metadata = new Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  const call = client.connect(metadata);
  const received: HubMessage[] = [];
  const waiters: { kind: string; match: (v: never) => boolean; resolve: (v: unknown) => void }[] = [];
  call.on('data', (message: HubMessage) => {
    received.push(message);
    const msg = message.msg;
    if (!msg) return;
    for (const w of [...waiters]) {
      if (w.kind === msg.$case && w.match(msg.value as never)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(msg.value);
      }
    }
  });
  const ended = new Promise<{ code: number; details: string }>((resolve) => {
    call.on('error', (err: { code: number; details: string }) =>
      resolve({ code: err.code, details: err.details }),
    );
    call.on('status', (s: { code: number; details: string }) =>
      resolve({ code: s.code, details: s.details }),
    );
  });
  if (hello) {
    call.write({
      msg: {
        $case: 'hello',
        value: {
          protocolVersion: ProtocolVersion.PROTOCOL_VERSION_1,
          agentName: 'raw',
          agentVersion: 'test',
          cluster: 'test',
          pools: [rawPool('local')],
          held: [],
          ...hello,
        },
      },
    });
  }
  return {
    call,
    received,
    send: (message) => call.write(message),
    next(kind, match = () => true) {
      for (const m of received) {
        if (m.msg?.$case === kind && match(m.msg.value as never))
          return Promise.resolve(m.msg.value as never);
      }
      return new Promise((resolve) =>
        waiters.push({ kind, match: match, resolve: resolve as (v: unknown) => void }),
      );
    },
    ended,
    close() {
      call.cancel();
      client.close();
    },
  };
}

/** Sends heartbeats every `everyMs`, as a real agent does; returns the stop. */
export function heartbeating(agent: RawAgent, everyMs: number): () => void {
  let seq = 0;
  const timer = setInterval(
    () => agent.send({ msg: { $case: 'heartbeat', value: { seq: ++seq, sentAtUnixMs: Date.now() } } }),
    everyMs,
  );
  return () => clearInterval(timer);
}

/**
 * A client for a welcomed raw agent's side calls (artifacts, tunnels), with the metadata a real agent
 * sends: its token and the session id of its Welcome. Close the client when done.
 */
export function sideCallsOf(
  address: string,
  token: string,
  sessionId: string,
): { client: AgentGatewayClient; metadata: Metadata } {
  const client = new AgentGatewayClient(address, credentials.createInsecure());
  const metadata = new Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  metadata.set(SESSION_METADATA_KEY, sessionId);
  return { client, metadata };
}

/** A chunk of `leaseId`'s stdout with log sequence `seq`, as an agent sends it. */
export function stdoutMessage(
  leaseId: string,
  seq: number,
  data: Buffer | string,
  atUnixMs = 0,
): AgentMessage {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  return {
    msg: {
      $case: 'log',
      value: { leaseId, seq, stream: LogStream.LOG_STREAM_STDOUT, data: bytes, atUnixMs },
    },
  };
}

/** A Finished for `leaseId` after log sequence `lastLogSeq`: succeeded, exit 0, unless `patch` says else. */
export function finishedMessage(
  leaseId: string,
  lastLogSeq: number,
  patch: Partial<Finished> = {},
): AgentMessage {
  const value: Finished = {
    leaseId,
    status: StepStatus.STEP_STATUS_SUCCEEDED,
    atUnixMs: Date.now(),
    exitStatus: 0,
    error: '',
    lastLogSeq,
    outputs: [],
    resourceResultJson: '',
    ...patch,
  };
  return { msg: { $case: 'finished', value } };
}

/**
 * Sets pipeline `p` with one shell job, triggers it and has `agent` (welcomed) take and start its step:
 * the build's id and the lease, once the hub has stored the step's start.
 */
export async function startedStep(
  hub: TestHub,
  agent: RawAgent,
): Promise<{ buildId: number; leaseId: string }> {
  await setPipeline(hub, 'p', shellPipeline('echo x'));
  const buildId = await triggerJob(hub, 'p', 'job');
  const { leaseId } = await agent.next('assign');
  agent.send({ msg: { $case: 'accepted', value: { leaseId } } });
  agent.send({ msg: { $case: 'started', value: { leaseId, atUnixMs: Date.now() } } });
  await waitForEvents(hub, buildId, 'start-task');
  return { buildId, leaseId };
}
