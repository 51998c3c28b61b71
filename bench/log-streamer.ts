// The logs measurement's agent and SSE watcher, a process of its own (bench/logs.ts forks it), as users
// have their agents and browsers on other processes than `outpost-hub`. In the bench's own process they
// shared its heap of ~100 MB (every measurement's modules): each V8 major GC marked all of it, and the
// bench's CPU per 100 MB of logs varied 1.0-3.1 s from run to run on the 2 cores the hub needs too.
//
// One protocol-level agent holds the build's step and streams ~100 MB of numbered lines in chunks of the
// hub's maximum size, keeping its unacknowledged bytes under the hub's log window; a watcher on the
// build's SSE stream checks that every line arrives exactly once, in order (bench/log-lines.ts). The
// chunks are made before the clock starts, so the figure is the hub's, not the generator's. It talks to
// its parent over Node's IPC channel: `ready` once the agent is welcomed, then one `stream` request.

import { performance } from 'node:perf_hooks';
import { growSmallHeapsFaster } from '../common/heap-growth.js';
import { LogStream, type Assign } from '../proto/gen/outpost/v1/agent.js';
import { LineChecker, makeChunks } from './log-lines.js';
import { BenchAgent } from './proto-agent.js';
import { MB } from './stats.js';
import { deferred, SseByteBlocks, totalCpuSeconds, within } from './support.js';

export interface LogStreamerConfig {
  grpcAddress: string;
  agentToken: string;
  /** The hub (replica) whose SSE stream the watcher reads, and its API token. */
  watchUrl: string;
  apiToken: string;
  /** The hub processes whose CPU the figures count. */
  hubPids: number[];
}

/** Parent -> streamer. */
export type LogStreamRequest = { stream: { buildId: number } } | { close: true };

export interface StreamFigures {
  payloadBytes: number;
  chunks: number;
  linesSent: number;
  linesReceived: number;
  linesWrong: number;
  status: string;
  /** First send -> the watcher saw the last line / the hub acknowledged the last chunk. */
  lastLineS: number;
  lastAckS: number;
  /** CPU seconds over the same interval: the hubs', and this process's (agent and watcher). */
  hubCpuS: number;
  streamerCpuS: number;
}

/** Streamer -> parent. */
export type LogStreamReply = { ready: true } | { streamed: StreamFigures } | { error: string };

const TARGET_BYTES = 100 * MB;

function reply(message: LogStreamReply): void {
  process.send?.(message);
}

const PAYLOAD_FIELD = Buffer.from('"payload":"');
const DATA_LINE = Buffer.from('\ndata: ');

/**
 * Reads the build's SSE stream, feeding each log payload's bytes to `checker`; resolves the final build
 * status. Each event's data is still parsed as JSON, with a log payload cut out, so its shape is checked.
 */
async function watch(config: LogStreamerConfig, buildId: number, checker: LineChecker): Promise<string> {
  const res = await fetch(`${config.watchUrl}/api/v1/builds/${buildId}/events`, {
    headers: { authorization: `Bearer ${config.apiToken}` },
  });
  if (res.status !== 200 || !res.body) throw new Error(`events of build ${buildId}: HTTP ${res.status}`);
  const blocks = new SseByteBlocks();
  let status = '';
  for await (const bytes of res.body as AsyncIterable<Uint8Array>) {
    for (const block of blocks.push(bytes)) {
      if (block.toString('latin1', 0, 10) === 'event: end') return status;
      const dataAt = block.indexOf(DATA_LINE);
      if (block.toString('latin1', 0, 4) !== 'id: ' || dataAt < 0) continue;
      const dataStart = dataAt + DATA_LINE.length;
      // The payload's closing quote is the first after its opening one: the lines hold no quote, and a
      // payload that did would leave the rest unparsable.
      const field = block.indexOf(PAYLOAD_FIELD, dataStart);
      const payloadStart = field < 0 ? -1 : field + PAYLOAD_FIELD.length;
      const payloadEnd = payloadStart < 0 ? -1 : block.indexOf(0x22, payloadStart);
      const json =
        payloadEnd < 0
          ? block.toString('utf8', dataStart)
          : block.toString('utf8', dataStart, payloadStart) + block.toString('utf8', payloadEnd);
      const envelope = JSON.parse(json) as { event: string; data: { payload?: string; status?: string } };
      if (envelope.event === 'log' && envelope.data.payload === '' && payloadEnd >= 0)
        checker.escapedPayload(block.subarray(payloadStart, payloadEnd));
      if (envelope.event === 'status' && envelope.data.status) status = envelope.data.status;
    }
  }
  return status;
}

async function main(config: LogStreamerConfig): Promise<void> {
  // The hub's heap policy: by V8's own, this process's major GCs per 100 MB of logs went from 2 to 37
  // run to run, and its CPU with them (docs/performance.md, session 15).
  growSmallHeapsFaster();
  let acked = 0;
  let ackWaiter: (() => void) | undefined;
  const assigned = deferred<Assign>();
  const agent = new BenchAgent({
    address: config.grpcAddress,
    token: config.agentToken,
    name: 'logs-agent',
    capacity: 1,
    ownConnection: true,
    handlers: {
      assign: (assign) => assigned.resolve(assign),
      logAck: (ack) => {
        acked = Math.max(acked, ack.seq);
        ackWaiter?.();
      },
    },
  });
  const welcome = await within(10_000, 'logs agent welcome', agent.welcome);
  const limits = welcome.limits;
  if (!limits) throw new Error('Welcome carried no limits');
  const { chunks, lines } = makeChunks(TARGET_BYTES, limits.maxLogChunkBytes);

  const stream = async (buildId: number): Promise<StreamFigures> => {
    let lastLineAt = NaN;
    // Before the Accept: the checker prepares the ~108 MB it compares with.
    const checker = new LineChecker(lines, () => (lastLineAt = performance.now()));
    const { leaseId } = await within(10_000, 'logs assignment', assigned.promise);
    agent.accept(leaseId);
    const watching = watch(config, buildId, checker);

    // Unacknowledged bytes stay within the window: chunk i (seq i+1) goes out once acks allow it.
    const start = performance.now();
    const hubCpuAtStart = await totalCpuSeconds(config.hubPids);
    const ownCpuAtStart = process.cpuUsage();
    let unackedFrom = 0;
    let unackedBytes = 0;
    for (let i = 0; i < chunks.length; i++) {
      const chunk = chunks[i] ?? Buffer.alloc(0);
      for (;;) {
        for (; unackedFrom < acked; unackedFrom++) unackedBytes -= chunks[unackedFrom]?.length ?? 0;
        if (unackedBytes + chunk.length <= limits.logWindowBytes) break;
        await new Promise<void>((resolve) => (ackWaiter = resolve));
      }
      unackedBytes += chunk.length;
      const ok = agent.send({
        msg: {
          $case: 'log',
          value: {
            leaseId,
            seq: i + 1,
            stream: LogStream.LOG_STREAM_STDOUT,
            data: chunk,
            atUnixMs: Date.now(),
          },
        },
      });
      if (!ok) await agent.drained();
    }
    agent.finish(leaseId, chunks.length);
    while (acked < chunks.length) await new Promise<void>((resolve) => (ackWaiter = resolve));
    const lastAckAt = performance.now();
    const status = await within(120_000, 'log watcher', watching);
    const ownCpu = process.cpuUsage(ownCpuAtStart);
    return {
      payloadBytes: chunks.reduce((n, c) => n + c.length, 0),
      chunks: chunks.length,
      linesSent: lines,
      linesReceived: checker.received,
      linesWrong: checker.wrong,
      status,
      lastLineS: (lastLineAt - start) / 1000,
      lastAckS: (lastAckAt - start) / 1000,
      hubCpuS: (await totalCpuSeconds(config.hubPids)) - hubCpuAtStart,
      streamerCpuS: (ownCpu.user + ownCpu.system) / 1e6,
    };
  };

  process.on('message', (message: LogStreamRequest) => {
    if ('close' in message) {
      agent.close();
      process.disconnect();
      return;
    }
    within(120_000, 'log stream', stream(message.stream.buildId)).then(
      (streamed) => reply({ streamed }),
      (err: unknown) => reply({ error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
    );
  });
  reply({ ready: true });
}

const config = JSON.parse(process.argv[2] ?? '{}') as LogStreamerConfig;
main(config).catch((err: unknown) => {
  reply({ error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  process.exitCode = 1;
});
