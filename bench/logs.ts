// (d) Log throughput agent -> hub -> SSE watcher, with the hub in a process of its own (as deployed) and
// the agent and the watcher in another (bench/log-streamer.ts): ~100 MB of numbered lines, every one of
// which the watcher must see exactly once, in order.

import type { LogStreamerConfig, LogStreamReply, LogStreamRequest } from './log-streamer.js';
import { startChildHub } from './child-hub.js';
import { MB } from './stats.js';
import { forkBenchChild, taskPipeline, within, type HubApi } from './support.js';

export interface LogsResult {
  /** Payload MB / (first send -> watcher saw the last line). */
  mbPerS: number;
  /** Payload MB / (first send -> hub acknowledged the last chunk). */
  ackMbPerS: number;
  /** Payload MB / hub process CPU seconds (user + system) over the same interval. */
  hubCpuMbPerS: number;
  /** Payload MB / the agent's and watcher's process CPU seconds over the same interval. */
  streamerCpuMbPerS: number;
  /** Log chunks per store transaction on the hub (its outpost_hub_log_batch_chunks histogram). */
  chunksPerBatch: number;
  payloadMb: number;
  chunks: number;
  linesSent: number;
  linesReceived: number;
  /** Lines that arrived out of order, twice, or garbled. */
  linesWrong: number;
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
  const config: LogStreamerConfig = {
    grpcAddress,
    agentToken,
    watchUrl: watchApi.url,
    apiToken: watchApi.token,
    hubPids: pids,
  };
  const streamer = forkBenchChild<LogStreamRequest, LogStreamReply>('log-streamer.ts', config);
  try {
    const ready = await within(30_000, 'log streamer ready', streamer.ready);
    if ('error' in ready) throw new Error(`log streamer: ${ready.error}`);
    await api.setPipeline('logs', taskPipeline('one', 1));
    const buildId = await api.trigger('logs', 'one');
    const answer = await streamer.ask({ stream: { buildId } });
    if (!('streamed' in answer))
      throw new Error(`log streamer: ${'error' in answer ? answer.error : 'no figures'}`);
    const f = answer.streamed;
    if (f.status !== 'succeeded') throw new Error(`logs build ended ${f.status || 'without a status'}`);
    const metrics = await (
      await fetch(`${api.url}/metrics`, { headers: { authorization: `Bearer ${api.token}` } })
    ).text();
    const metric = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1] ?? NaN);
    const payloadMb = f.payloadBytes / MB;
    return {
      mbPerS: payloadMb / f.lastLineS,
      ackMbPerS: payloadMb / f.lastAckS,
      hubCpuMbPerS: payloadMb / f.hubCpuS,
      streamerCpuMbPerS: payloadMb / f.streamerCpuS,
      chunksPerBatch:
        metric('outpost_hub_log_batch_chunks_sum') / metric('outpost_hub_log_batch_chunks_count'),
      payloadMb,
      chunks: f.chunks,
      linesSent: f.linesSent,
      linesReceived: f.linesReceived,
      linesWrong: f.linesWrong,
    };
  } finally {
    await streamer.close({ close: true });
    await close();
  }
}
