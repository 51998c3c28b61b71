// One step's log as the build page holds it: its line count, and only some of its lines, in chunks (a page
// fetched from some line, and the newest lines, which grow as the step prints), so a million-line log
// costs what a few thousand lines do. Far chunks are dropped and fetched again when scrolled back to.
// Each line is kept as a string with its time and the colour state at its start (a shared object).

import type { LogStart } from '../../hub/api/types.js';
import { ansiAfter, PLAIN, type AnsiState } from './ansi.js';

/** Chunks kept besides the newest, per step: at ~256 KiB a page, a few MiB. */
const KEPT_CHUNKS = 12;
/** Lines the newest chunk grows to before it is closed and a new one begun (so it can be dropped too). */
const OPEN_LINES = 4000;

export interface LogLine {
  text: string;
  /** When the line's first text was printed (Unix ms; 0: unknown). */
  time: number;
  /** The colours at its start. */
  state: AnsiState;
}

/** Where a log stands: the line (from 0) the next text goes on, and whether that line has text yet. */
export interface LogPosition {
  line: number;
  partial: boolean;
  state: AnsiState;
}

/** The position a page's `start` gives, its colours parsed. */
export function positionOf(start: LogStart): LogPosition {
  return { line: start.line, partial: start.partial, state: ansiAfter(start.sgr, PLAIN) };
}

/** Lines from `first` on; the last one is the line being written (possibly ''). */
class Chunk {
  readonly lines: string[] = [];
  readonly times: number[] = [];
  readonly states: AnsiState[] = [];
  first: number;
  /** The start of the first line was before this chunk: skip text to the first newline. */
  private skipping: boolean;
  private state: AnsiState;

  constructor(from: LogPosition) {
    this.first = from.partial ? from.line + 1 : from.line;
    this.skipping = from.partial;
    this.state = from.state;
    if (!from.partial) this.begin(0);
  }

  /** Lines it holds that no later text can change. */
  get complete(): number {
    return this.lines.length - 1;
  }

  private begin(time: number): void {
    this.lines.push('');
    this.times.push(time);
    this.states.push(this.state);
  }

  push(text: string, time: number): void {
    let at = 0;
    if (this.skipping) {
      const nl = text.indexOf('\n');
      this.state = ansiAfter(nl < 0 ? text : text.slice(0, nl), this.state);
      if (nl < 0) return;
      this.skipping = false;
      at = nl + 1;
      this.begin(time);
    }
    for (;;) {
      const nl = text.indexOf('\n', at);
      const last = this.lines.length - 1;
      const piece = nl < 0 ? text.slice(at) : text.slice(at, nl);
      if (this.lines[last] === '') this.times[last] = time;
      if (piece) this.lines[last] = (this.lines[last] ?? '') + piece;
      if (nl < 0) return;
      this.state = ansiAfter(this.lines[last] ?? '', this.states[last] ?? PLAIN);
      this.begin(time);
      at = nl + 1;
    }
  }

  /** The line being written, as the position a new chunk continues from (this one keeps the rest). */
  split(): LogPosition {
    const text = this.lines.pop() ?? '';
    const state = this.states.pop() ?? this.state;
    this.times.pop();
    // This chunk's lines all end in a newline now; what comes after the last is the new chunk's.
    this.begin(0);
    return { line: this.first + this.lines.length - 1, partial: text !== '', state: ansiAfter(text, state) };
  }
}

export class StepLog {
  /** Where the log ends: the line the newest text goes on. */
  private end = { line: 0, partial: false };
  /** Closed chunks: every line final. */
  private closed: Chunk[] = [];
  /** The chunk the newest text goes to. */
  private open = new Chunk({ line: 0, partial: false, state: PLAIN });

  /** Lines in the log, the one being written included once it has text. */
  get count(): number {
    return this.end.line + (this.end.partial ? 1 : 0);
  }

  /** Line `i` (from 0), or undefined when it is not held (fetch a page with it). */
  line(i: number): LogLine | undefined {
    const open = this.open;
    if (i >= open.first && i - open.first < open.lines.length && i < this.count) return at(open, i);
    for (const c of this.closed) if (i >= c.first && i - c.first < c.complete) return at(c, i);
    return undefined;
  }

  /** The first line in `from`..`to` not held, or undefined. */
  missing(from: number, to: number): number | undefined {
    for (let i = from; i <= Math.min(to, this.count - 1); i++) if (!this.line(i)) return i;
    return undefined;
  }

  /** The log's end is at `end` (read from a page): the newest text continues from there. */
  startAt(end: LogPosition): void {
    this.end = { line: end.line, partial: end.partial };
    this.open = new Chunk(end);
  }

  /** Text printed after everything before: the log grows. */
  append(text: string, time: number): void {
    this.open.push(text, time);
    let line = this.end.line;
    for (let at = text.indexOf('\n'); at >= 0; at = text.indexOf('\n', at + 1)) line++;
    const last = text.lastIndexOf('\n');
    const partial = last < 0 ? this.end.partial || text !== '' : last < text.length - 1;
    this.end = { line, partial };
    if (this.open.lines.length > OPEN_LINES) {
      const rest = this.open.split();
      // The newest lines are the ones a reader following the log looks at.
      this.keep(this.open, rest.line);
      this.open = new Chunk(rest);
    }
  }

  /**
   * Keeps the lines of a page read from `from` (complete ones only: the page ends before the log does),
   * dropping the chunks farthest from line `near` beyond the few kept. Returns the lines kept.
   */
  addPage(from: LogPosition, pieces: { text: string; time: number }[], near: number): number {
    const chunk = new Chunk(from);
    for (const p of pieces) chunk.push(p.text, p.time);
    if (chunk.complete <= 0) return 0;
    this.keep(chunk, near);
    return chunk.complete;
  }

  /** Adds a closed chunk, dropping those farthest from line `near` beyond the few kept. */
  private keep(chunk: Chunk, near: number): void {
    this.closed.push(chunk);
    const distance = (c: Chunk) =>
      near < c.first ? c.first - near : Math.max(0, near - (c.first + c.complete - 1));
    while (this.closed.length > KEPT_CHUNKS) {
      const far = this.closed.reduce((a, b) => (distance(b) > distance(a) ? b : a));
      this.closed = this.closed.filter((c) => c !== far);
    }
  }

  /** Lines held, for tests and figures. */
  get held(): number {
    return this.closed.reduce((n, c) => n + c.complete, this.open.lines.length);
  }
}

const at = (c: Chunk, i: number): LogLine => ({
  text: c.lines[i - c.first] ?? '',
  time: c.times[i - c.first] ?? 0,
  state: c.states[i - c.first] ?? PLAIN,
});
