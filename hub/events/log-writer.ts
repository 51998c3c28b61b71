// Group commit for build logs. Every agent session hands its log chunks here instead of writing each in
// a transaction of its own: chunks that arrive while a batch is being written wait and go together in
// the next one (any number of steps and builds per transaction), and each chunk's promise settles when
// its batch has committed, so sessions still acknowledge only what is stored.
//
// The per-build log cap is applied here too: a chunk past it is acknowledged but not stored, and the
// build's log gets one visible marker instead.

import type { Logger } from 'pino';
import type { HubMetrics } from '../metrics.js';
import type { LogAppend, LogAppendResult } from '../store/store.js';
import { EVENT_VERSIONS, eventTime, type BuildEvents } from './build-events.js';

export interface LogWriterOptions {
  /** Log payload bytes a build may store; later output is dropped behind one marker. 0: no cap. */
  maxBuildLogBytes: number;
  /** A batch takes queued chunks up to this many payload bytes (at least one chunk). */
  maxBatchBytes: number;
}

interface Pending {
  input: LogAppend;
  bytes: number;
  resolve: (result: LogAppendResult) => void;
  reject: (err: unknown) => void;
}

export class LogWriter {
  private queue: Pending[] = [];
  private queuedBytes = 0;
  private writing: Promise<void> | undefined;

  constructor(
    private readonly events: BuildEvents,
    private readonly opts: LogWriterOptions,
    private readonly metrics: HubMetrics,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Payload bytes queued and not yet committed. */
  get pendingBytes(): number {
    return this.queuedBytes;
  }

  /** Queues a chunk; resolves with its result once the batch holding it has committed. */
  append(input: LogAppend): Promise<LogAppendResult> {
    const bytes = input.bytes ?? 0;
    return new Promise<LogAppendResult>((resolve, reject) => {
      this.queue.push({ input, bytes, resolve, reject });
      this.queuedBytes += bytes;
      this.writing ??= this.drain();
    });
  }

  /** Resolves once every chunk queued so far has been written (hub drain). */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private async drain(): Promise<void> {
    try {
      for (;;) {
        // Let the event loop read what the network has delivered meanwhile: those chunks join this batch.
        // gRPC hands over about one message per turn, so keep turning while chunks keep coming (a few
        // turns at most: a turn with nothing new, or a full batch, ends the wait).
        for (let turns = 0, seen = -1; turns < 8 && this.queue.length !== seen; turns++) {
          if (this.queuedBytes >= this.opts.maxBatchBytes) break;
          seen = this.queue.length;
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
        if (this.queue.length === 0) return;
        await this.writeBatch(this.take());
      }
    } finally {
      this.writing = undefined;
      // A chunk queued after the last check but before `writing` was cleared must not wait forever.
      if (this.queue.length > 0) this.writing = this.drain();
    }
  }

  private take(): Pending[] {
    let bytes = 0;
    let n = 0;
    while (n < this.queue.length) {
      const next = this.queue[n];
      if (!next || (n > 0 && bytes + next.bytes > this.opts.maxBatchBytes)) break;
      bytes += next.bytes;
      n++;
    }
    const batch = this.queue.splice(0, n);
    this.queuedBytes -= bytes;
    return batch;
  }

  private async writeBatch(batch: Pending[]): Promise<void> {
    const cap = this.opts.maxBuildLogBytes;
    let results: LogAppendResult[];
    try {
      results = await this.events.appendLogs(
        batch.map((p) => p.input),
        cap > 0
          ? { maxBuildLogBytes: cap, truncationMarker: (dropped) => this.marker(dropped, cap) }
          : undefined,
      );
    } catch (err) {
      this.log.error({ err, chunks: batch.length }, 'could not store a batch of log chunks');
      for (const p of batch) p.reject(err);
      return;
    }
    this.metrics.logBatches.observe(batch.length);
    batch.forEach((p, i) => {
      const result = results[i];
      if (!result) {
        p.reject(new Error('no result for a log chunk'));
        return;
      }
      if (result.kind === 'truncated') {
        this.metrics.logBytesDropped.inc(p.bytes);
        if (result.marker) {
          this.metrics.logTruncatedBuilds.inc();
          this.log.warn(
            { buildId: result.marker.buildId, cap },
            'build log reached its cap; dropping the rest',
          );
        }
      }
      p.resolve(result);
    });
  }

  private marker(dropped: LogAppend, cap: number): { type: string; version: string; data: unknown } {
    const origin = (dropped.event.data as { origin?: { id?: string } } | undefined)?.origin;
    return {
      type: 'log',
      version: EVENT_VERSIONS.log,
      data: {
        origin: { id: origin?.id ?? '', source: 'stderr' },
        payload: `outpost: build log exceeds ${formatBytes(cap)}; further output of this build is dropped\n`,
        time: eventTime(this.now()),
      },
    };
  }
}

/** 104857600 -> "100 MiB"; 1536 -> "1.5 KiB"; 100 -> "100 bytes". */
export function formatBytes(n: number): string {
  for (const [unit, size] of [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (n >= size) return `${Number((n / size).toFixed(1))} ${unit}`;
  }
  return `${n} bytes`;
}
