// Where each step's log lines are in a build's event log, so a client can be shown any part of a long log
// (its end first) with the right line numbers and colours without reading what comes before: for every
// event that adds log text, the line it starts on, whether that line was begun by an earlier event, and the
// colour state (SGR) in effect. Built from the stored events on first use, extended as the build goes on,
// and kept for a few builds at a time (16 bytes per log event).

import type { BuildEvent, Store } from '../store/store.js';

/** Where the index reads a build's events from (the store). */
export type EventReader = Pick<Store, 'listBuildEvents'>;
import { SgrState } from './sgr-state.js';
import type { LogStart } from './types.js';

/** Builds whose index is kept in memory, least recently used dropped first. */
const KEPT_BUILDS = 4;
/** Events read from the store at a time while indexing. */
const READ_BATCH = 64;

interface LogData {
  origin?: { id?: string };
  payload?: string;
  message?: string;
}

/**
 * The text an event adds to its step's log, as the build page shows it: a `log` event's payload, an
 * `error` event's message on a line of its own; undefined for other events.
 */
export function logTextOf(type: string, data: LogData): string | undefined {
  if (type === 'log') return data.payload;
  if (type === 'error') return `${data.payload ?? data.message ?? 'error'}\n`;
  return undefined;
}

/** What an event's text does to its step's log; `sgr`: the text, when it may hold escape sequences. */
interface TextFacts {
  step: string;
  newlines: number;
  endsInNewline: boolean;
  empty: boolean;
  sgr?: string;
}

function textOf(type: string, json: string): TextFacts | undefined {
  const data = JSON.parse(json) as LogData;
  const text = logTextOf(type, data);
  const step = data.origin?.id;
  if (text === undefined || step === undefined) return undefined;
  let newlines = 0;
  for (let at = text.indexOf('\n'); at >= 0; at = text.indexOf('\n', at + 1)) newlines++;
  return { step, newlines, endsInNewline: text.endsWith('\n'), empty: text === '', sgr: text };
}

// A log event as the hub stores it: {"origin":{"id":…,"source":…},"payload":"…","time":…}.
const LOG_HEAD = /^\{"origin":\{"id":("(?:[^"\\]|\\.)*")(?:,"source":"\w+")?\},"payload":"/;
const LOG_TAIL = /","time":[\d.]+\}$/;
const BACKSLASH = 92;

/**
 * The facts of a log event without colour codes, read from its stored JSON without parsing the payload (a
 * 64 KiB string each: half the time of indexing a long log); undefined when it is not of that shape.
 */
function plainLogText(json: string): TextFacts | undefined {
  const head = LOG_HEAD.exec(json);
  const tail = head && LOG_TAIL.exec(json);
  if (!head?.[1] || !tail || json.includes('\\u001b')) return undefined;
  const from = head[0].length;
  const to = tail.index;
  // `\n` in the JSON is a newline when the backslash before the n is not itself escaped.
  const escapes = (at: number) => {
    let run = 1;
    while (at - run >= from && json.charCodeAt(at - run) === BACKSLASH) run++;
    return run % 2 === 1;
  };
  let newlines = 0;
  for (let at = json.indexOf('\\n', from); at >= 0 && at < to; at = json.indexOf('\\n', at + 2))
    if (escapes(at)) newlines++;
  return {
    step: JSON.parse(head[1]) as string,
    newlines,
    endsInNewline: to - from >= 2 && json.startsWith('\\n', to - 2) && escapes(to - 2),
    empty: to === from,
  };
}

/** A growable column of small whole numbers. */
class Column {
  values = new Int32Array(64);
  push(at: number, value: number): void {
    if (at === this.values.length) {
      const grown = new Int32Array(at * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[at] = value;
  }
}

/** One step's log events: seq, lines before it, whether it continues a line, colour state (interned). */
class StepLog {
  count = 0;
  readonly seqs = new Column();
  readonly lines = new Column();
  readonly partials = new Column();
  readonly sgrs = new Column();
  /** The state after the last event indexed. */
  end: LogStart = { line: 0, partial: false, sgr: '' };
  readonly sgr = new SgrState();

  at(i: number, sgrNames: string[]): LogStart {
    return {
      line: this.lines.values[i] ?? 0,
      partial: this.partials.values[i] === 1,
      sgr: sgrNames[this.sgrs.values[i] ?? 0] ?? '',
    };
  }

  /** The first event at or after `seq`; `count` when there is none. */
  firstFrom(seq: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.seqs.values[mid] ?? 0) < seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

export class BuildLogIndex {
  /** Every event up to this seq is indexed. */
  private seq = 0;
  private readonly steps = new Map<string, StepLog>();
  private readonly sgrIds = new Map<string, number>([['', 0]]);
  private readonly sgrNames = [''];
  private updating: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: EventReader,
    private readonly buildId: number,
  ) {}

  /** Every event up to this seq is indexed. */
  get indexed(): number {
    return this.seq;
  }

  /** Indexes the events stored since the last call (one reader at a time). */
  update(): Promise<void> {
    this.updating = this.updating.then(() => this.read());
    return this.updating;
  }

  private async read(): Promise<void> {
    for (;;) {
      const events = await this.store.listBuildEvents(this.buildId, this.seq, READ_BATCH);
      for (const e of events) this.add(e);
      if (events.length < READ_BATCH) return;
    }
  }

  private add(e: BuildEvent): void {
    this.seq = e.seq;
    if (e.type !== 'log' && e.type !== 'error') return;
    let text = (e.type === 'log' && plainLogText(e.json)) || textOf(e.type, e.json);
    if (!text) return;
    let step = this.steps.get(text.step);
    if (!step) this.steps.set(text.step, (step = new StepLog()));
    // An escape sequence cut off at the end of the last chunk ends in this one.
    if (text.sgr === undefined && step.sgr.cutOff) text = textOf(e.type, e.json) ?? text;
    const i = step.count++;
    step.seqs.push(i, e.seq);
    step.lines.push(i, step.end.line);
    step.partials.push(i, step.end.partial ? 1 : 0);
    step.sgrs.push(i, this.sgrId(step.end.sgr));
    if (text.sgr !== undefined) step.sgr.feed(text.sgr);
    step.end = {
      line: step.end.line + text.newlines,
      partial: text.newlines === 0 ? step.end.partial || !text.empty : !text.endsInNewline,
      sgr: step.sgr.sequence(),
    };
  }

  private sgrId(sgr: string): number {
    let id = this.sgrIds.get(sgr);
    if (id === undefined) {
      id = this.sgrNames.push(sgr) - 1;
      this.sgrIds.set(sgr, id);
    }
    return id;
  }

  /**
   * Where every step's log stands just before event `seq`: the steps that have log text before `seq` or
   * up to `through` (the last event of the page being served).
   */
  startsAt(seq: number, through: number): Record<string, LogStart> {
    const out: Record<string, LogStart> = {};
    for (const [id, step] of this.steps) {
      if (step.count === 0 || (step.seqs.values[0] ?? 0) > through) continue;
      const i = step.firstFrom(seq);
      out[id] = i < step.count ? step.at(i, this.sgrNames) : step.end;
    }
    return out;
  }

  /** The seq of the step's last event with log text; undefined when it has none. */
  lastEventOf(stepId: string): number | undefined {
    const step = this.steps.get(stepId);
    return step && step.count > 0 ? step.seqs.values[step.count - 1] : undefined;
  }

  /** The seq of the event in which line `line` (from 0) of step `stepId` begins; undefined past its end. */
  eventOfLine(stepId: string, line: number): number | undefined {
    const step = this.steps.get(stepId);
    if (!step || line > step.end.line || (line === step.end.line && !step.end.partial)) return undefined;
    // The first line that begins inside event i: its first one, unless an earlier event began that.
    const firstBegun = (i: number) => (step.lines.values[i] ?? 0) + (step.partials.values[i] ?? 0);
    let lo = 0;
    let hi = step.count;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (firstBegun(mid) <= line) lo = mid + 1;
      else hi = mid;
    }
    return step.seqs.values[Math.max(lo - 1, 0)];
  }
}

/** The indexes of the builds read lately. */
export class BuildLogIndexes {
  private readonly kept = new Map<number, BuildLogIndex>();

  constructor(private readonly store: EventReader) {}

  /** The build's index, up to date with its stored events. */
  async of(buildId: number): Promise<BuildLogIndex> {
    let index = this.kept.get(buildId);
    this.kept.delete(buildId);
    index ??= new BuildLogIndex(this.store, buildId);
    this.kept.set(buildId, index);
    for (const old of this.kept.keys()) {
      if (this.kept.size <= KEPT_BUILDS) break;
      this.kept.delete(old);
    }
    await index.update();
    return index;
  }
}
