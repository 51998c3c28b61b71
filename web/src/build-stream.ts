// A build's events as the page needs them, fast and small on a long log: the newest events first (with
// every step's line count and colours from the hub's index, so lines are numbered at once) and the steps'
// states, then the live stream from the newest event read. Older lines are fetched a page at a time when
// scrolled to (`want`), and each step keeps only a few pages (log-window.ts).

import { useCallback, useEffect, useRef, useState } from 'react';
import type { BuildEventEnvelope, BuildEventPage } from '../../hub/api/types.js';
import { api } from './api.js';
import { applyState, emptyModel, logTextOf, stepOf, type BuildModel } from './build-model.js';
import { followBuildEvents, type SeqEvent } from './events.js';
import { positionOf } from './log-window.js';

/** Event data of the first look: a few screenfuls of 100-byte lines, fast to fetch and parse. */
const TAIL_BYTES = 128 * 1024;
/** Event data of a page fetched on scrolling: ~2,500 lines of 100 bytes. */
const PAGE_BYTES = 256 * 1024;
/** The most events a page may hold (the byte budget is what limits it). */
const PAGE_EVENTS = 1000;
/** Lines a page is guessed to hold before one of the step's has been read. */
const GUESS_LINES = 1000;

export interface BuildStream {
  model: BuildModel;
  /** Bumped on every change (the model changes in place). */
  version: number;
  error: string | undefined;
  /** Lines `from`..`to` (from 0) of a step are on screen: fetch them if they are not held. */
  want: (step: string, from: number, to: number) => void;
}

export function useBuildStream(id: number, onEvent?: (e: BuildEventEnvelope) => void): BuildStream {
  const wantRef = useRef<BuildStream['want']>(() => undefined);
  const want = useCallback<BuildStream['want']>((s, from, to) => wantRef.current(s, from, to), []);
  const [state, setState] = useState<Omit<BuildStream, 'want'>>(() => ({
    model: emptyModel(),
    version: 0,
    error: undefined,
  }));
  // The page's callback may change identity each render without meaning a new stream.
  const onEventRef = useRef(onEvent);
  onEventRef.current = onEvent;
  useEffect(() => {
    const stop = new AbortController();
    const model = emptyModel();
    /** The newest event applied: pages keep only what is older (the stream brings the rest). */
    let newest = 0;
    let frame = 0;
    // Events arrive in bursts; render at most once per frame.
    const render = () => {
      frame ||= requestAnimationFrame(() => {
        frame = 0;
        setState((s) => ({ ...s, model, version: s.version + 1 }));
      });
    };
    const fail = (e: unknown) => {
      if (!stop.signal.aborted)
        setState((s) => ({ ...s, error: e instanceof Error ? e.message : String(e) }));
    };

    /**
     * Keeps each step's lines of a page read from a line of step `step` (`near`: the line the reader
     * looks at); returns how many lines of `step` it held.
     */
    const keepPage = (page: BuildEventPage, step: string, near: number) => {
      const texts = new Map<string, { text: string; time: number }[]>();
      for (const e of page.events) {
        if (e.seq > newest) break;
        const t = logTextOf(e);
        if (!t) continue;
        const pieces = texts.get(t.step);
        if (pieces) pieces.push(t);
        else texts.set(t.step, [t]);
      }
      let kept = 0;
      for (const [s, pieces] of texts) {
        const start = page.start?.[s];
        const lines = start ? stepOf(model, s).log.addPage(positionOf(start), pieces, near) : 0;
        if (s === step) kept = lines;
      }
      return kept;
    };

    // Pages of lines scrolled to: one fetch at a time, for the latest lines asked for.
    let asked: { step: string; from: number; to: number } | null = null;
    let fetching = false;
    const lastAsked = new Map<string, number>();
    const pageLines = new Map<string, number>();
    const fetchPages = async () => {
      if (fetching) return;
      fetching = true;
      try {
        while (asked && !stop.signal.aborted) {
          const { step, from, to } = asked;
          asked = null;
          const log = model.steps.get(step)?.log;
          const gap = log?.missing(from, to);
          if (!log || gap === undefined) continue;
          let gapEnd = gap;
          while (gapEnd < to && !log.line(gapEnd + 1)) gapEnd++;
          // Scrolling up to held lines: the page that ends where they begin, not one from the gap's top.
          const upward = gapEnd + 1 < log.count && log.line(gapEnd + 1) !== undefined;
          const line = upward ? Math.max(0, gapEnd + 1 - (pageLines.get(step) ?? GUESS_LINES)) : gap;
          // A line a page did not bring (one longer than a page) is not asked for again and again.
          if (lastAsked.get(step) === line) continue;
          lastAsked.set(step, line);
          const page = await api.eventPage(id, {
            step,
            line: line + 1,
            limit: PAGE_EVENTS,
            bytes: PAGE_BYTES,
          });
          pageLines.set(step, Math.max(100, keepPage(page, step, from)));
          render();
        }
      } finally {
        fetching = false;
      }
    };

    const stateEvents = async () => {
      const events: SeqEvent[] = [];
      for (let after = 0; ;) {
        const page = (await api.eventPage(id, { log: false, after, limit: PAGE_EVENTS })).events;
        events.push(...page);
        if (page.length < PAGE_EVENTS) return events;
        after = page.at(-1)?.seq ?? after;
      }
    };

    const load = async () => {
      const [tail, states] = await Promise.all([
        api.eventPage(id, { tail: true, limit: PAGE_EVENTS, bytes: TAIL_BYTES }),
        stateEvents(),
      ]);
      if (stop.signal.aborted) return;
      newest = tail.events.at(-1)?.seq ?? 0;
      // Those after the tail come again in the stream, in order with the log.
      for (const e of states) if (e.seq <= newest) applyState(model, e);
      for (const [step, start] of Object.entries(tail.start ?? {}))
        stepOf(model, step).log.startAt(positionOf(start));
      for (const e of tail.events) {
        const t = logTextOf(e);
        if (t) stepOf(model, t.step).log.append(t.text, t.time);
      }
      render();
      wantRef.current = (step, from, to) => {
        asked = { step, from, to };
        fetchPages().catch(fail);
      };
      await followBuildEvents(
        id,
        newest,
        (e) => {
          newest = e.seq;
          applyState(model, e);
          const t = logTextOf(e);
          if (t) stepOf(model, t.step).log.append(t.text, t.time);
          onEventRef.current?.(e);
          render();
        },
        stop.signal,
      );
    };
    load().catch(fail);
    return () => {
      stop.abort();
      cancelAnimationFrame(frame);
      wantRef.current = () => undefined;
    };
  }, [id]);
  return { ...state, want };
}
