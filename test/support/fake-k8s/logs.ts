// Per-container log buffers: lines stamped on receipt with RFC3339Nano timestamps (as the CRI log
// format does), served by pods/log with follow, sinceTime, sinceSeconds, tailLines, timestamps and
// limitBytes.

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

export class LogBuffer {
  readonly lines: LogLine[] = [];
  private readonly partial: Record<'stdout' | 'stderr', string> = { stdout: '', stderr: '' };
  private readonly followers = new Set<{ line: (l: LogLine) => void; end: () => void }>();
  ended = false;

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
    for (const f of this.followers) f.line(line);
  }

  /** The container terminated: flush unterminated lines and end followers. */
  end(): void {
    if (this.ended) return;
    for (const s of ['stdout', 'stderr'] as const) {
      if (this.partial[s]) this.push(s, this.partial[s]);
      this.partial[s] = '';
    }
    this.ended = true;
    for (const f of this.followers) f.end();
    this.followers.clear();
  }

  follow(line: (l: LogLine) => void, end: () => void): () => void {
    const f = { line, end };
    this.followers.add(f);
    return () => this.followers.delete(f);
  }
}

export interface LogQuery {
  sinceNs?: bigint;
  tailLines?: number;
  timestamps: boolean;
}

export function selectLines(buf: LogBuffer, q: LogQuery): LogLine[] {
  let lines = q.sinceNs === undefined ? buf.lines : buf.lines.filter((l) => l.ns >= q.sinceNs!);
  if (q.tailLines !== undefined) lines = q.tailLines === 0 ? [] : lines.slice(-q.tailLines);
  return lines;
}

export const formatLine = (l: LogLine, timestamps: boolean): string =>
  timestamps ? `${l.timestamp} ${l.text}` : l.text;
