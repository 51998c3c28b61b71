// Where each step's log lines are in a build's event log, so a client can be shown any part of a long log
// (its end first) with the right line numbers and colours without reading what comes before: for every
// event that adds log text, the line it starts on, whether that line was begun by an earlier event, and the
// colour state (SGR) in effect. Read from the positions the store keeps with each log event (a small row
// per event, not its text; see hub/log-text/log-position.ts), extended as the build goes on, and kept for
// a few builds at a time (16 bytes per log event). A build from before the store kept positions is indexed
// by reading its events' text instead.

import { advance, LOG_START, stepTextOf, type LogPosition } from '../log-text/log-position.js';
import type { Store } from '../store/store.js';
import type { LogStart } from './types.js';

/** Where the index reads a build's log positions (and an old build's events) from: the store. */
export type EventReader = Pick<Store, 'listBuildEvents' | 'buildEvents'>;

/** Builds whose index is kept in memory, least recently used dropped first. */
const KEPT_BUILDS = 4;
/** Positions read from the store at a time. */
const READ_POSITIONS = 4096;
/** Events read from the store at a time (an old build's, whole). */
const READ_EVENTS = 64;

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
  /** Whether the store keeps this build's log positions; undefined until asked. */
  private positioned: boolean | undefined;
  /** An old build's steps, where each stands after the events read (unfinished escapes included). */
  private readonly scanned = new Map<string, LogPosition>();

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
    this.positioned ??= await this.store.buildEvents.hasLogPositions(this.buildId);
    if (!this.positioned) return this.readEvents();
    for (;;) {
      const rows = await this.store.buildEvents.logPositions(this.buildId, this.seq, READ_POSITIONS);
      for (const r of rows) this.add(r.seq, r.step, r);
      if (rows.length < READ_POSITIONS) return;
    }
  }

  /** A build from before positions were kept: its positions from its events' text. */
  private async readEvents(): Promise<void> {
    for (;;) {
      const events = await this.store.listBuildEvents(this.buildId, this.seq, READ_EVENTS);
      for (const e of events) {
        const logged = stepTextOf(e.type, JSON.parse(e.logPayload?.data ?? e.json), e.logPayload?.bytes);
        if (logged) {
          const before = this.scanned.get(logged.step) ?? LOG_START;
          const after = advance(before, logged.text);
          this.scanned.set(logged.step, after);
          this.add(e.seq, logged.step, after);
        } else this.seq = e.seq;
      }
      if (events.length < READ_EVENTS) return;
    }
  }

  /** Event `seq` left step `stepId`'s log at `after`. */
  private add(seq: number, stepId: string, after: LogStart): void {
    this.seq = seq;
    let step = this.steps.get(stepId);
    if (!step) this.steps.set(stepId, (step = new StepLog()));
    const i = step.count++;
    step.seqs.push(i, seq);
    step.lines.push(i, step.end.line);
    step.partials.push(i, step.end.partial ? 1 : 0);
    step.sgrs.push(i, this.sgrId(step.end.sgr));
    step.end = { line: after.line, partial: after.partial, sgr: after.sgr };
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
