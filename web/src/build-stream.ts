// A build's events as the page needs them, fast on a long log: the newest events first (shown at once,
// without line numbers), then the whole log in pages from the start, then the live stream. Events that
// arrive live while the pages load are kept and applied after them, so nothing is shown twice or lost.

import { useEffect, useRef, useState } from 'react';
import type { BuildEventEnvelope } from '../../hub/api/types.js';
import { api } from './api.js';
import { applyEvent, emptyModel, type BuildModel } from './build-model.js';
import { followBuildEvents } from './events.js';

/** Events of the first look (a 64 KiB log chunk each at most): a screenful, fast to fetch and parse. */
const TAIL_EVENTS = 16;
/** 64 chunks of 64 KiB: the server's 4 MiB page budget, so it reads no rows it then leaves out. */
const PAGE_EVENTS = 64;

export interface BuildStream {
  model: BuildModel;
  /** Bumped on every change (the model changes in place). */
  version: number;
  /** False while only the newest events are known: line numbers are not yet. */
  complete: boolean;
  error: string | undefined;
}

export function useBuildStream(id: number, onEvent?: (e: BuildEventEnvelope) => void): BuildStream {
  const [state, setState] = useState<BuildStream>(() => ({
    model: emptyModel(),
    version: 0,
    complete: false,
    error: undefined,
  }));
  // The page's callback may change identity each render without meaning a new stream.
  const onEventRef = useRef(onEvent);
  onEventRef.current = onEvent;
  useEffect(() => {
    const stop = new AbortController();
    let shown = emptyModel();
    let complete = false;
    let frame = 0;
    // Events arrive in bursts; render at most once per frame.
    const render = () => {
      frame ||= requestAnimationFrame(() => {
        frame = 0;
        setState((s) => ({ ...s, model: shown, complete, version: s.version + 1 }));
      });
    };
    const fail = (e: unknown) => {
      if (!stop.signal.aborted)
        setState((s) => ({ ...s, error: e instanceof Error ? e.message : String(e) }));
    };
    const load = async () => {
      const tail = (await api.eventPage(id, { tail: true, limit: TAIL_EVENTS })).events;
      for (const e of tail) applyEvent(shown, e);
      const tailLast = tail.at(-1)?.seq ?? 0;
      complete = (tail[0]?.seq ?? 1) <= 1;
      render();
      const live: BuildEventEnvelope[] = [];
      followBuildEvents(
        id,
        tailLast,
        (e) => {
          applyEvent(shown, e);
          if (!complete) live.push(e);
          onEventRef.current?.(e);
          render();
        },
        stop.signal,
      ).catch(fail);
      if (complete) return;
      const full = emptyModel();
      for (let after = 0; after < tailLast;) {
        const page = (await api.eventPage(id, { after, limit: PAGE_EVENTS })).events;
        if (stop.signal.aborted || page.length === 0) return;
        for (const e of page) if (e.seq <= tailLast) applyEvent(full, e);
        after = page.at(-1)?.seq ?? tailLast;
      }
      for (const e of live) applyEvent(full, e);
      shown = full;
      complete = true;
      render();
    };
    load().catch(fail);
    return () => {
      stop.abort();
      cancelAnimationFrame(frame);
    };
  }, [id]);
  return state;
}
