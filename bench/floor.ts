// The floor: what bare grpc-js costs on this machine with the real service definition and
// serialization, and no hub logic. Every hub figure is reported as a ratio to it.
//
// The round trip is measured as dispatch is (bench/dispatch.ts): the echo server in the bench process,
// its client (a protocol-level agent) forked into a process of its own (bench/remote-agent.ts), so the
// ratio compares like with like. The same round trip with both ends on the bench process's event loop
// is kept as an extra figure (`rttInProcess`), as is the bulk stream, measured in-process.

import { execFile } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import {
  Server,
  ServerCredentials,
  status as GrpcStatus,
  type ServerDuplexStream,
  type ServerReadableStream,
  type ServerWritableStream,
  type sendUnaryData,
} from '@grpc/grpc-js';
import {
  AgentGatewayService,
  LogStream,
  type AgentMessage,
  type ArtifactChunk,
  type ArtifactRef,
  type ArtifactRequest,
  type ArtifactUpload,
  type HubMessage,
} from '../proto/gen/outpost/v1/agent.js';
import { DEFAULT_HUB_OPTIONS } from '../hub/hub.js';
import { BenchAgent, HeartbeatEcho } from './proto-agent.js';
import type { RemoteAgentConfig, RemoteReply, RemoteRequest } from './remote-agent.js';
import { MB, summarize, type Summary } from './stats.js';
import { forkBenchChild, within } from './support.js';

export interface FloorResult {
  /** Heartbeat round trip, the client in a process of its own. */
  rtt: Summary;
  /** The same with client and server on one process's event loop. */
  rttInProcess: Summary;
  streamMbPerS: number;
  streamMb: number;
}

const RTT_WARMUP = 500;
const RTT_SAMPLES = 5_000;
const STREAM_CHUNK = 64 * 1024;
const STREAM_BYTES = 200 * MB;

interface EchoServer {
  port: number;
  logBytes: () => number;
  close: () => void;
}

/** A bare gateway: Connect echoes heartbeats and counts log bytes; nothing else. */
async function startEchoServer(): Promise<EchoServer> {
  let logBytes = 0;
  // The same message limits as the hub's gateway, so both sides frame messages alike.
  const server = new Server({
    'grpc.max_receive_message_length': DEFAULT_HUB_OPTIONS.maxMessageBytes,
    'grpc.max_send_message_length': DEFAULT_HUB_OPTIONS.maxMessageBytes,
  });
  const unimplemented = { code: GrpcStatus.UNIMPLEMENTED, details: 'floor server' };
  server.addService(AgentGatewayService, {
    connect(call: ServerDuplexStream<AgentMessage, HubMessage>) {
      call.on('data', (message: AgentMessage) => {
        const msg = message.msg;
        if (msg?.$case === 'heartbeat') call.write({ msg: { $case: 'heartbeat', value: msg.value } });
        else if (msg?.$case === 'log') logBytes += msg.value.data.length;
      });
      call.on('end', () => call.end());
      call.on('error', () => undefined);
    },
    uploadArtifact(_call: ServerReadableStream<ArtifactUpload, ArtifactRef>, cb: sendUnaryData<ArtifactRef>) {
      cb(unimplemented);
    },
    downloadArtifact(call: ServerWritableStream<ArtifactRequest, ArtifactChunk>) {
      call.emit('error', unimplemented);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    ),
  );
  return { port, logBytes: () => logBytes, close: () => server.forceShutdown() };
}

/** Round trips from a client forked into a process of its own. */
async function ownProcessRoundTrips(port: number): Promise<number[]> {
  const config: RemoteAgentConfig = { mode: 'floor', address: `127.0.0.1:${port}`, token: 'floor' };
  const child = forkBenchChild<RemoteRequest, RemoteReply>('remote-agent.ts', config);
  try {
    const ready = await within(30_000, 'floor client process', child.ready);
    if ('error' in ready) throw new Error(`floor client: ${ready.error}`);
    const answer = await within(
      60_000,
      'floor ping-pong (own process)',
      child.ask({ pingPong: { warmup: RTT_WARMUP, samples: RTT_SAMPLES } }),
    );
    if (!('rttMs' in answer)) throw new Error(`floor client: ${JSON.stringify(answer)}`);
    return answer.rttMs;
  } finally {
    await child.close({ close: true });
  }
}

export async function measureFloor(): Promise<FloorResult> {
  const server = await startEchoServer();
  try {
    return await measureWith(server);
  } finally {
    server.close();
  }
}

async function measureWith(server: EchoServer): Promise<FloorResult> {
  const rtt = summarize(await ownProcessRoundTrips(server.port));
  const echo = new HeartbeatEcho();
  const agent = new BenchAgent({
    address: `127.0.0.1:${server.port}`,
    token: 'floor',
    name: 'floor',
    capacity: 1,
    ownConnection: true,
    handlers: { heartbeat: echo.handler },
  });
  try {
    const samples = await within(30_000, 'floor ping-pong', echo.roundTrips(agent, RTT_WARMUP, RTT_SAMPLES));

    // Bulk stream: 64 KiB log chunks, honouring write() backpressure, then a heartbeat as a barrier
    // (the server handles messages in order, so its echo means every chunk was counted).
    const data = Buffer.alloc(STREAM_CHUNK, 'x');
    const before = server.logBytes();
    const start = performance.now();
    await within(
      60_000,
      'floor stream',
      (async () => {
        for (let seq = 1, sent = 0; sent < STREAM_BYTES; seq++, sent += STREAM_CHUNK) {
          const ok = agent.send({
            msg: {
              $case: 'log',
              value: {
                leaseId: 'floor',
                seq,
                stream: LogStream.LOG_STREAM_STDOUT,
                data,
                atUnixMs: Date.now(),
              },
            },
          });
          if (!ok) await agent.drained();
        }
        await echo.roundTrip(agent, 0);
      })(),
    );
    const seconds = (performance.now() - start) / 1000;
    const received = server.logBytes() - before;
    if (received !== STREAM_BYTES)
      throw new Error(`floor stream: sent ${STREAM_BYTES} bytes, server counted ${received}`);
    return {
      rtt,
      rttInProcess: summarize(samples),
      streamMbPerS: received / MB / seconds,
      streamMb: received / MB,
    };
  } finally {
    agent.close();
  }
}

/** 3 M small objects, each with a string and an array: allocation and GC, as the hub's work per step is. */
const REFERENCE_SOURCE = `
const start = process.hrtime.bigint();
let kept = 0;
for (let i = 0; i < 3e6; i++) { const o = { a: i, b: String(i), c: [i] }; kept += o.b.length + o.c.length; }
process.stdout.write(String(Number(process.hrtime.bigint() - start) / 1e6) + ' ' + kept);
`;

/**
 * The machine's speed at allocation-heavy JavaScript right now: the milliseconds a fresh Node.js process
 * takes for REFERENCE_SOURCE. On the shared 2-core VM it moved by up to 1.5x within minutes while
 * hashing did not, and the hub's CPU per step rose with it in most runs (docs/performance.md, session
 * 14): steps/s and its CPU per step are read against it.
 */
export async function machineReferenceMs(): Promise<number> {
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', REFERENCE_SOURCE]);
  return Number(stdout.split(' ')[0]);
}
