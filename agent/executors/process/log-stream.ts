// stdout and stderr merged into one async iterable, in arrival order, with backpressure: when the
// consumer falls behind, the pipes are paused so the child blocks on write instead of the agent
// buffering gigabytes.
import type { Readable } from 'node:stream';
import type { LogData } from '../executor.js';

export interface LogSource {
  stream: LogData['stream'];
  readable: Readable;
}

export interface LogStreamOptions {
  /** Pause the sources once this many bytes wait for the consumer. */
  highWaterMark?: number;
  /** Also pause once this many chunks wait (tiny chunks cost far more than their bytes). */
  maxChunks?: number;
}

export const DEFAULT_HIGH_WATER_MARK = 1024 * 1024;
const DEFAULT_MAX_CHUNKS = 4096;

export class MergedLogStream implements AsyncIterable<LogData> {
  private readonly highWaterMark: number;
  private readonly maxChunks: number;
  private readonly sources: LogSource[];
  private queue: LogData[] = [];
  private head = 0;
  private buffered = 0;
  private maxBuffered = 0;
  private open: number;
  private paused = false;
  private abandoned = false;
  private iterated = false;
  private waiter: ((r: IteratorResult<LogData>) => void) | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private arrivals = 0;
  private resolveDrained!: () => void;
  /** Resolves once every source ended and the consumer took (or gave up on) every chunk. */
  readonly drained = new Promise<void>((resolve) => (this.resolveDrained = resolve));

  constructor(sources: LogSource[], opts: LogStreamOptions = {}) {
    this.highWaterMark = opts.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    this.maxChunks = opts.maxChunks ?? DEFAULT_MAX_CHUNKS;
    this.sources = sources;
    this.open = sources.length;
    for (const { stream, readable } of sources) {
      let closed = false;
      const onClose = () => {
        if (closed) return;
        closed = true;
        this.open--;
        this.checkEnd();
      };
      readable.on('data', (data: Buffer) => this.push({ stream, data, at: Date.now() }));
      readable.on('error', onClose);
      readable.on('close', onClose);
    }
    this.checkEnd();
  }

  /** Bytes currently waiting for the consumer. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** The most bytes that ever waited for the consumer. */
  get maxBufferedBytes(): number {
    return this.maxBuffered;
  }

  /**
   * Ends the stream even if a pipe stays open (a descendant that escaped the process group still
   * holds it): once no data arrived for idleMs while the consumer keeps up, the pipes are destroyed.
   */
  endWhenIdle(idleMs: number): void {
    if (this.open === 0 || this.idleTimer) return;
    let seen = this.arrivals;
    this.idleTimer = setTimeout(() => {
      if (this.open === 0) return;
      if (this.paused || this.arrivals !== seen) {
        seen = this.arrivals;
        this.idleTimer?.refresh();
        return;
      }
      this.destroy();
    }, idleMs);
  }

  /** Destroys the sources now; whatever is already queued is still delivered. */
  destroy(): void {
    for (const { readable } of this.sources) readable.destroy();
  }

  private push(item: LogData): void {
    this.arrivals++;
    if (this.abandoned) return;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w({ value: item, done: false });
      return;
    }
    this.queue.push(item);
    this.buffered += item.data.length;
    if (this.buffered > this.maxBuffered) this.maxBuffered = this.buffered;
    if (
      !this.paused &&
      (this.buffered >= this.highWaterMark || this.queue.length - this.head >= this.maxChunks)
    ) {
      this.paused = true;
      for (const { readable } of this.sources) readable.pause();
    }
  }

  private take(): LogData | undefined {
    if (this.head === this.queue.length) return undefined;
    const item = this.queue[this.head];
    this.queue[this.head++] = undefined as unknown as LogData;
    // Compact now and then instead of Array#shift on every chunk.
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    if (item) this.buffered -= item.data.length;
    // Resume below half the mark so a steady producer does not flap the pipes every chunk.
    if (
      this.paused &&
      this.buffered < this.highWaterMark / 2 &&
      this.queue.length - this.head < this.maxChunks / 2
    ) {
      this.resume();
    }
    return item;
  }

  private resume(): void {
    this.paused = false;
    for (const { readable } of this.sources) readable.resume();
  }

  private checkEnd(): void {
    if (this.open > 0) return;
    clearTimeout(this.idleTimer);
    if (this.head === this.queue.length) {
      this.resolveDrained();
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = undefined;
        w({ value: undefined, done: true });
      }
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<LogData> {
    if (this.iterated) throw new Error('logs() can be consumed only once');
    this.iterated = true;
    return {
      next: () => {
        const item = this.take();
        if (item) {
          this.checkEnd();
          return Promise.resolve({ value: item, done: false });
        }
        if (this.open === 0) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => (this.waiter = resolve));
      },
      // The consumer stopped early (break/throw): drop output from now on, keep the pipes flowing
      // so the step can still finish.
      return: () => {
        this.abandoned = true;
        this.queue = [];
        this.head = 0;
        this.buffered = 0;
        if (this.paused) this.resume();
        this.checkEnd();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
