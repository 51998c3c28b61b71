// The floor: what bare grpc-js costs on this machine with the real service definition and
// serialization, and no hub logic. Every hub figure is reported as a ratio to it.

import { performance } from 'node:perf_hooks';
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
import { BenchAgent } from './proto-agent.js';
import { MB, summarize, type Summary } from './stats.js';
import { deferred, within } from './support.js';

export interface FloorResult {
  rtt: Summary;
  streamMbPerS: number;
  streamMb: number;
}

const RTT_WARMUP = 500;
const RTT_SAMPLES = 5_000;
const STREAM_CHUNK = 64 * 1024;
const STREAM_BYTES = 200 * MB;

/** A bare gateway: Connect echoes heartbeats and counts log bytes; nothing else. */
async function startEchoServer(): Promise<{ port: number; logBytes: () => number; close: () => void }> {
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

export async function measureFloor(): Promise<FloorResult> {
  const server = await startEchoServer();
  let echoed: ((seq: number) => void) | undefined;
  const agent = new BenchAgent({
    address: `127.0.0.1:${server.port}`,
    token: 'floor',
    name: 'floor',
    capacity: 1,
    ownConnection: true,
    handlers: { heartbeat: (hb) => echoed?.(hb.seq) },
  });
  try {
    // Ping-pong: one heartbeat in flight at a time, timed from write() to the echo's arrival.
    const pingPong = async (seq: number): Promise<number> => {
      const got = deferred<number>();
      echoed = got.resolve;
      const start = performance.now();
      agent.send({ msg: { $case: 'heartbeat', value: { seq, sentAtUnixMs: Date.now() } } });
      const back = await got.promise;
      if (back !== seq) throw new Error(`floor echo out of order: sent ${seq}, got ${back}`);
      return performance.now() - start;
    };
    const samples: number[] = [];
    await within(
      30_000,
      'floor ping-pong',
      (async () => {
        for (let i = 1; i <= RTT_WARMUP + RTT_SAMPLES; i++) {
          const rtt = await pingPong(i);
          if (i > RTT_WARMUP) samples.push(rtt);
        }
      })(),
    );

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
        await pingPong(0);
      })(),
    );
    const seconds = (performance.now() - start) / 1000;
    const received = server.logBytes() - before;
    if (received !== STREAM_BYTES)
      throw new Error(`floor stream: sent ${STREAM_BYTES} bytes, server counted ${received}`);
    return { rtt: summarize(samples), streamMbPerS: received / MB / seconds, streamMb: received / MB };
  } finally {
    agent.close();
    server.close();
  }
}
