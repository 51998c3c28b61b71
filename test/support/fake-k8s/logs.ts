// Per-container log buffers: lines stamped on receipt with RFC3339Nano timestamps (as the CRI log
// format does), served by pods/log with follow, sinceTime, sinceSeconds, tailLines, timestamps and
// limitBytes. Like the kubelet, a buffer rotates its log file at a size and serves only the current
// file to a new request, while a follow goes on across the rotation.

export interface LogLine {
  /** Nanoseconds since the epoch, for ordering and sinceTime comparisons. */
  ns: bigint;
  /** RFC3339Nano, trailing zeros trimmed like Go's time.RFC3339Nano. */
  timestamp: string;
  stream: 'stdout' | 'stderr';
  /** The line including its trailing "\n" (absent only for a final unterminated line). */
  text: string;
}

const hrBase = process.hrtime.bigint();
const epochBase = BigInt(Date.now()) * 1_000_000n;
let lastNs = 0n;

/** Monotonic, unique nanosecond timestamps anchored to the wall clock. */
export function nowNs(): bigint {
  let ns = epochBase + (process.hrtime.bigint() - hrBase);
  if (ns <= lastNs) ns = lastNs + 1n;
  lastNs = ns;
  return ns;
}

export function rfc3339Nano(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const base = new Date(ms).toISOString().slice(0, 19);
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${base}${frac ? '.' + frac : ''}Z`;
}

/** Parses an RFC3339 time (fractional seconds allowed, as Go's time.Parse accepts) to nanoseconds. */
export function parseRfc3339(value: string): bigint | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(value);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]!}${m[3]!}`);
  if (Number.isNaN(ms)) return undefined;
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0') || '0');
}

interface Follower {
  line: (l: LogLine) => void;
  end: () => void;
  /** A half-open connection: nothing more reaches it, and it never ends. */
  silent: boolean;
}

/** "2006-01-02T15:04:05.999999999Z" with every fractional digit. */
const CRI_TIMESTAMP_WIDTH = 30;

export class LogBuffer {
  /** Every line written, rotated ones too (only `current` are served). */
  readonly lines: LogLine[] = [];
  private readonly partial: Record<'stdout' | 'stderr', string> = { stdout: '', stderr: '' };
  private readonly followers = new Set<Follower>();
  /** Where the current log file starts in `lines`, and its size in the CRI format. */
  private fileStart = 0;
  private fileBytes = 0;
  ended = false;

  /** `rotateBytes`: the kubelet's containerLogMaxSize (10Mi by default); the file rotates past it. */
  constructor(private readonly rotateBytes = Infinity) {}

  /** The lines of the current log file: all a new pods/log request can read. */
  get current(): LogLine[] {
    return this.lines.slice(this.fileStart);
  }

  write(stream: 'stdout' | 'stderr', chunk: Buffer | string): void {
    const data = this.partial[stream] + chunk.toString();
    const parts = data.split('\n');
    this.partial[stream] = parts.pop() ?? '';
    for (const p of parts) this.push(stream, p + '\n');
  }

  private push(stream: 'stdout' | 'stderr', text: string): void {
    const ns = nowNs();
    const line: LogLine = { ns, timestamp: rfc3339Nano(ns), stream, text };
    this.lines.push(line);
    // The CRI log line: "<timestamp> <stream> F|P <text>", counted with a full-width timestamp so that
    // where a file rotates does not depend on the clock (the kubelet rotates on a timer, not at a byte).
    this.fileBytes += CRI_TIMESTAMP_WIDTH + Buffer.byteLength(` ${stream} F ${text}`);
    if (this.fileBytes >= this.rotateBytes) {
      this.fileStart = this.lines.length;
      this.fileBytes = 0;
    }
    for (const f of this.followers) if (!f.silent) f.line(line);
  }

  /** The container terminated: flush unterminated lines and end followers. */
  end(): void {
    if (this.ended) return;
    for (const s of ['stdout', 'stderr'] as const) {
      if (this.partial[s]) this.push(s, this.partial[s]);
      this.partial[s] = '';
    }
    this.ended = true;
    for (const f of this.followers) if (!f.silent) f.end();
    this.followers.clear();
  }

  follow(line: (l: LogLine) => void, end: () => void): () => void {
    const f = { line, end, silent: false };
    this.followers.add(f);
    return () => this.followers.delete(f);
  }

  /** Every follow open now goes silent for good, as over a half-open connection. Returns how many. */
  silenceFollowers(): number {
    for (const f of this.followers) f.silent = true;
    return this.followers.size;
  }
}

export interface LogQuery {
  sinceNs?: bigint;
  tailLines?: number;
  timestamps: boolean;
}

export function selectLines(buf: LogBuffer, q: LogQuery): LogLine[] {
  const file = buf.current;
  let lines = q.sinceNs === undefined ? file : file.filter((l) => l.ns >= q.sinceNs!);
  if (q.tailLines !== undefined) lines = q.tailLines === 0 ? [] : lines.slice(-q.tailLines);
  return lines;
}

export const formatLine = (l: LogLine, timestamps: boolean): string =>
  timestamps ? `${l.timestamp} ${l.text}` : l.text;
