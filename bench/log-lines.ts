// The logs measurement's numbered lines: the chunks the agent sends, and the check that the SSE watcher
// got each line exactly once and in order. Pure, so the check can be tested on its own (a check that
// could not fail would make the figure meaningless).

const LINE_DIGITS = 7;
const LINE_PREFIX = Buffer.from('line ');
/** `line 0000001\n`. */
export const LINE_BYTES = LINE_PREFIX.length + LINE_DIGITS + 1;

/**
 * Whole lines `line 0000001\n`... numbered from 1, about `totalBytes` of them, in chunks of at most
 * `maxChunk` bytes.
 */
export function makeChunks(totalBytes: number, maxChunk: number): { chunks: Buffer[]; lines: number } {
  const perChunk = Math.floor(maxChunk / LINE_BYTES);
  const total = Math.floor(totalBytes / LINE_BYTES);
  const chunks: Buffer[] = [];
  for (let first = 1; first <= total; first += perChunk) {
    const count = Math.min(perChunk, total - first + 1);
    const chunk = Buffer.allocUnsafe(count * LINE_BYTES);
    for (let i = 0; i < count; i++) {
      writeLine(chunk, i * LINE_BYTES, first + i);
      chunk[(i + 1) * LINE_BYTES - 1] = NEWLINE;
    }
    chunks.push(chunk);
  }
  return { chunks, lines: total };
}

/**
 * `line NNNNNNN` (n's digits) at buf[off]. Written in place: 8 M template strings would take longer than
 * the measurement.
 */
function writeLine(buf: Buffer, off: number, n: number): void {
  LINE_PREFIX.copy(buf, off);
  for (let d = LINE_DIGITS - 1, v = n; d >= 0; d--, v = Math.floor(v / 10))
    buf[off + LINE_PREFIX.length + d] = 48 + (v % 10);
}

const NEWLINE = 0x0a;
const BACKSLASH = 0x5c;
const LETTER_N = 0x6e;
/** A line as the frame holds it: its newline is escaped as two bytes. */
const ESCAPED_LINE_BYTES = LINE_BYTES + 1;

/** Lines 1 to `total` as their frames must hold them, one after the other. */
function escapedLines(total: number): Buffer {
  const bytes = Buffer.allocUnsafe(total * ESCAPED_LINE_BYTES);
  for (let n = 1, off = 0; n <= total; n++, off += ESCAPED_LINE_BYTES) {
    writeLine(bytes, off, n);
    bytes[off + LINE_BYTES - 1] = BACKSLASH;
    bytes[off + LINE_BYTES] = LETTER_N;
  }
  return bytes;
}

/**
 * Counts and checks the numbered lines of a build's log events, on the bytes the hub sent: each line
 * must arrive as `line 0000001\n` escaped for JSON (a backslash and an `n` for its newline), exactly.
 * An event that holds exactly the next lines is compared with them whole (one memcmp); any other is
 * read line by line, to count what is wrong. Decoding 100 MB of frames to strings, parsing them and
 * slicing 8 M lines made the watcher spend more CPU than the hub spent sending them, on the same 2
 * cores (docs/performance.md, session 15).
 */
export class LineChecker {
  received = 0;
  wrong = 0;
  private expected = 1;
  /** The start of a line whose end is in a later event. */
  private carry = Buffer.alloc(0);
  private readonly expectedBytes: Buffer;

  constructor(
    private readonly total: number,
    private readonly onLastLine: () => void = () => undefined,
  ) {
    this.expectedBytes = escapedLines(total);
  }

  /** A payload's bytes as its frame holds them: the JSON string literal without its quotes. */
  escapedPayload(escaped: Buffer): void {
    if (this.carry.length === 0 && this.isNextLines(escaped)) {
      const lines = escaped.length / ESCAPED_LINE_BYTES;
      this.received += lines;
      this.expected += lines;
      if (this.expected > this.total) this.onLastLine();
      return;
    }
    const data = this.carry.length > 0 ? Buffer.concat([this.carry, escaped]) : escaped;
    let pos = 0;
    for (
      let end = nextEscapedNewline(data, pos);
      end >= 0;
      pos = end + 2, end = nextEscapedNewline(data, pos)
    ) {
      const n = lineNumber(data, pos, end);
      this.received++;
      if (n === this.expected) this.expected++;
      else this.wrong++;
      if (n === this.total) this.onLastLine();
    }
    this.carry = Buffer.from(data.subarray(pos));
  }

  /** Whether `escaped` is whole lines, the very ones expected next. */
  private isNextLines(escaped: Buffer): boolean {
    const from = (this.expected - 1) * ESCAPED_LINE_BYTES;
    const to = from + escaped.length;
    return (
      escaped.length % ESCAPED_LINE_BYTES === 0 &&
      to <= this.expectedBytes.length &&
      this.expectedBytes.compare(escaped, 0, escaped.length, from, to) === 0
    );
  }
}

/** Where the next escaped newline at or after `from` starts, or -1. */
function nextEscapedNewline(data: Buffer, from: number): number {
  // A well-formed line ends where it should; anything else is searched for, an escaped backslash
  // (two backslashes) skipped as a whole.
  const end = from + LINE_BYTES - 1;
  if (data[end] === BACKSLASH && data[end + 1] === LETTER_N && data[end - 1] !== BACKSLASH) return end;
  for (let at = data.indexOf(BACKSLASH, from); at >= 0; at = data.indexOf(BACKSLASH, at + 2))
    if (data[at + 1] === LETTER_N) return at;
  return -1;
}

/** The number of the line `line 0000001` at data[start, end), or NaN when it is not one. */
function lineNumber(data: Buffer, start: number, end: number): number {
  if (end - start !== LINE_BYTES - 1) return NaN;
  // Byte by byte: a native compare per line cost more than the line's whole check.
  for (let i = 0; i < LINE_PREFIX.length; i++) if (data[start + i] !== LINE_PREFIX[i]) return NaN;
  let n = 0;
  for (let i = start + LINE_PREFIX.length; i < end; i++) {
    const digit = (data[i] ?? 0) - 48;
    if (digit < 0 || digit > 9) return NaN;
    n = n * 10 + digit;
  }
  return n;
}
