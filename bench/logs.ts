// (d) Log throughput agent -> hub -> SSE watcher, with the hub in a process of its own (as deployed).
// One protocol-level agent holds a step and streams
// ~100 MB of numbered lines in chunks of the hub's maximum size, keeping its unacknowledged bytes under
// the hub's log window; a watcher on the build's SSE stream checks every line arrives exactly once, in
// order. The chunks are generated before the clock starts, so the figure is the hub's, not the generator's.

import { performance } from 'node:perf_hooks';
import { LogStream, type Assign } from '../proto/gen/outpost/v1/agent.js';
import { BenchAgent } from './proto-agent.js';
import { MB } from './stats.js';
import { startChildHub } from './child-hub.js';
import { cpuSeconds, deferred, SseBlocks, taskPipeline, within, type HubApi } from './support.js';

export interface LogsResult {
  /** Payload MB / (first send -> watcher saw the last line). */
  mbPerS: number;
  /** Payload MB / (first send -> hub acknowledged the last chunk). */
  ackMbPerS: number;
  /** Payload MB / hub process CPU seconds (user + system) over the same interval. */
  hubCpuMbPerS: number;
  /** Log chunks per store transaction on the hub (its outpost_hub_log_batch_chunks histogram). */
  chunksPerBatch: number;
  payloadMb: number;
  chunks: number;
  linesSent: number;
  linesReceived: number;
  /** Lines that arrived out of order, twice, or garbled. */
  linesWrong: number;
}

const TARGET_BYTES = 100 * MB;
const LINE_DIGITS = 7;
const LINE_BYTES = 'line '.length + LINE_DIGITS + 1;

/** Whole lines `line 0000001\n`... numbered from 1, packed into chunks of at most `maxChunk` bytes. */
function makeChunks(maxChunk: number): { chunks: Buffer[]; lines: number } {
  const perChunk = Math.floor(maxChunk / LINE_BYTES);
  const total = Math.floor(TARGET_BYTES / LINE_BYTES);
  const chunks: Buffer[] = [];
  for (let first = 1; first <= total; first += perChunk) {
    const count = Math.min(perChunk, total - first + 1);
    const chunk = Buffer.allocUnsafe(count * LINE_BYTES);
    // Digits written in place: 8 M template strings would take longer than the measurement.
    for (let i = 0, off = 0; i < count; i++, off += LINE_BYTES) {
      chunk.write('line ', off, 'latin1');
      for (let d = LINE_DIGITS - 1, v = first + i; d >= 0; d--, v = Math.floor(v / 10))
        chunk[off + 5 + d] = 48 + (v % 10);
      chunk[off + LINE_BYTES - 1] = 10;
    }
    chunks.push(chunk);
  }
  return { chunks, lines: total };
}

/** Counts and checks the numbered lines of a build's log events until the stream ends. */
class LineChecker {
  received = 0;
  wrong = 0;
  private expected = 1;
  private carry = '';

  constructor(
    private readonly onLastLine: () => void,
    private readonly total: number,
  ) {}

  payload(text: string): void {
    const data = this.carry + text;
    let pos = 0;
    for (let nl = data.indexOf('\n', pos); nl >= 0; pos = nl + 1, nl = data.indexOf('\n', pos)) {
      const n = lineNumber(data, pos, nl);
      this.received++;
      if (n === this.expected) this.expected++;
      else this.wrong++;
      if (n === this.total) this.onLastLine();
    }
    this.carry = data.slice(pos);
  }
}

/**
 * The number of the line `line 0000001` at data[start, end), or NaN when it is not one: read digit by
 * digit, as slicing and converting 8 M lines would make the watcher slower than the hub it measures.
 */
function lineNumber(data: string, start: number, end: number): number {
  if (end - start !== LINE_BYTES - 1 || !data.startsWith('line ', start)) return NaN;
  let n = 0;
  for (let i = start + 5; i < end; i++) {
    const digit = data.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return NaN;
    n = n * 10 + digit;
  }
  return n;
}

/** Reads the SSE stream, feeding each log payload to `checker`; resolves the final build status. */
async function watch(api: HubApi, buildId: number, checker: LineChecker): Promise<string> {
  const reader = await api.events(buildId);
  const decoder = new TextDecoder();
  const blocks = new SseBlocks();
  let status = '';
  for (;;) {
    const chunk = await reader.read();
    if (chunk.done) return status;
    for (const block of blocks.push(decoder.decode(chunk.value, { stream: true }))) {
      if (block.startsWith('event: end')) return status;
      const dataAt = block.indexOf('\ndata: ');
      if (!block.startsWith('id: ') || dataAt < 0) continue;
      const envelope = JSON.parse(block.slice(dataAt + 7)) as {
        event: string;
        data: { payload?: string; status?: string };
      };
      if (envelope.event === 'log' && envelope.data.payload !== undefined)
        checker.payload(envelope.data.payload);
      if (envelope.event === 'status' && envelope.data.status) status = envelope.data.status;
    }
  }
}

/**
 * The hub(s) a log stream goes through: the agent dials `grpcAddress`, the watcher reads from `watchApi`
 * (another replica with --replicas, bench/replicas.ts), the CPU figure sums `pids`.
 */
export interface LogsTarget {
  api: HubApi;
  watchApi: HubApi;
  agentToken: string;
  grpcAddress: string;
  pids: number[];
  close: () => Promise<void>;
}

/** A child hub of its own, as deployed: the figure is its throughput, not this process's. */
async function childHubTarget(): Promise<LogsTarget> {
  const hub = await startChildHub();
  return { ...hub, watchApi: hub.api, pids: [hub.pid] };
}

export async function measureLogs(open: () => Promise<LogsTarget> = childHubTarget): Promise<LogsResult> {
  const { api, watchApi, agentToken, grpcAddress, pids, close } = await open();
  const hubCpuSeconds = async () => (await Promise.all(pids.map(cpuSeconds))).reduce((a, b) => a + b, 0);
  let acked = 0;
  let ackWaiter: (() => void) | undefined;
  const assigned = deferred<Assign>();
  const agent = new BenchAgent({
    address: grpcAddress,
    token: agentToken,
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
  try {
    const welcome = await within(10_000, 'logs agent welcome', agent.welcome);
    const limits = welcome.limits;
    if (!limits) throw new Error('Welcome carried no limits');
    const { chunks, lines } = makeChunks(limits.maxLogChunkBytes);
    const payloadBytes = chunks.reduce((n, c) => n + c.length, 0);

    await api.setPipeline('logs', taskPipeline('one', 1));
    const buildId = await api.trigger('logs', 'one');
    const { leaseId } = await within(10_000, 'logs assignment', assigned.promise);
    agent.accept(leaseId);

    let lastLineAt = NaN;
    const checker = new LineChecker(() => (lastLineAt = performance.now()), lines);
    const watching = watch(watchApi, buildId, checker);

    // Unacknowledged bytes stay within the window: chunk i (seq i+1) goes out once acks allow it.
    const start = performance.now();
    const cpuAtStart = await hubCpuSeconds();
    let lastAckAt = NaN;
    await within(
      120_000,
      'log stream',
      (async () => {
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
        lastAckAt = performance.now();
      })(),
    );
    const status = await within(120_000, 'log watcher', watching);
    const hubCpu = (await hubCpuSeconds()) - cpuAtStart;
    const metrics = await (
      await fetch(`${api.url}/metrics`, { headers: { authorization: `Bearer ${api.token}` } })
    ).text();
    const metric = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1] ?? NaN);
    if (status !== 'succeeded') throw new Error(`logs build ended ${status || 'without a status'}`);

    return {
      mbPerS: payloadBytes / MB / ((lastLineAt - start) / 1000),
      ackMbPerS: payloadBytes / MB / ((lastAckAt - start) / 1000),
      hubCpuMbPerS: payloadBytes / MB / hubCpu,
      chunksPerBatch:
        metric('outpost_hub_log_batch_chunks_sum') / metric('outpost_hub_log_batch_chunks_count'),
      payloadMb: payloadBytes / MB,
      chunks: chunks.length,
      linesSent: lines,
      linesReceived: checker.received,
      linesWrong: checker.wrong,
    };
  } finally {
    agent.close();
    await close();
  }
}
