// One step's log, virtualised: only the lines in view (and a few around) are in the page, so a step with
// a million lines scrolls as one with ten. Lines have a fixed height and do not wrap; each line number is
// a link to that line (shift-click: to the range from the last one clicked); timestamps on demand.
// ANSI colours start afresh on each line: carrying them over would mean reading every line above.

import { useVirtualizer } from '@tanstack/react-virtual';
import { useEffect, useRef, type MouseEvent } from 'react';
import { ansiSegments } from './ansi.js';
import { shownLines, type StepView } from './build-model.js';

export const LINE_PX = 18;

/** A link to lines `from`..`to` (1-based, inclusive) of one step: the URL fragment `#STEP:L5-L9`. */
export interface LineRange {
  step: string;
  from: number;
  to: number;
}

export function parseLineRange(hash: string): LineRange | null {
  const m = /^#(.+):L(\d+)(?:-L(\d+))?$/.exec(decodeURIComponent(hash));
  if (!m?.[1] || !m[2]) return null;
  const a = Number(m[2]);
  const b = Number(m[3] ?? m[2]);
  return { step: m[1], from: Math.min(a, b), to: Math.max(a, b) };
}

export function lineRangeHash(r: LineRange): string {
  return `#${encodeURIComponent(r.step)}:L${r.from}${r.to !== r.from ? `-L${r.to}` : ''}`;
}

const clock = (ms: number) => (ms ? new Date(ms).toLocaleTimeString([], { hour12: false }) : '');

export interface LogViewProps {
  stepId: string;
  stepName: string;
  view: StepView;
  /** Bumped whenever the view changed (it changes in place). */
  version: number;
  /** False while only the newest lines are loaded: numbers are not known yet. */
  numbered: boolean;
  follow: boolean;
  showTimes: boolean;
  selected: LineRange | null;
  /** The range to bring into view once (from the URL); null when there is none. */
  target: LineRange | null;
  onSelect: (r: LineRange) => void;
  /** The reader moved up with the keyboard: stop following the tail (the page handles the wheel). */
  onScrollUp: () => void;
}

export function LogView(p: LogViewProps) {
  const box = useRef<HTMLDivElement>(null);
  const count = shownLines(p.view);
  const virtual = useVirtualizer({
    count,
    getScrollElement: () => box.current,
    estimateSize: () => LINE_PX,
    overscan: 30,
  });
  const reached = useRef(false);

  useEffect(() => {
    const el = box.current;
    if (p.follow && el) el.scrollTop = el.scrollHeight;
  }, [p.follow, p.version, count]);

  useEffect(() => {
    const t = p.target;
    if (!t || reached.current || !p.numbered || t.step !== p.stepId || count < t.from) return;
    reached.current = true;
    virtual.scrollToIndex(t.from - 1, { align: 'center' });
    box.current?.scrollIntoView({ block: 'center' });
  }, [p.target, p.numbered, p.stepId, count, virtual]);

  if (count === 0) return null;
  const select = (e: MouseEvent, line: number) => {
    e.preventDefault();
    const anchor = p.selected?.step === p.stepId ? p.selected.from : line;
    p.onSelect(
      e.shiftKey
        ? { step: p.stepId, from: Math.min(anchor, line), to: Math.max(anchor, line) }
        : { step: p.stepId, from: line, to: line },
    );
  };
  const items = virtual.getVirtualItems();
  const sel = p.selected?.step === p.stepId ? p.selected : null;
  return (
    <div
      className="log"
      ref={box}
      role="log"
      aria-label={`log of step ${p.stepName}`}
      data-lines={count}
      tabIndex={0}
      onKeyDown={(e) => ['ArrowUp', 'PageUp', 'Home'].includes(e.key) && p.onScrollUp()}
    >
      <div style={{ height: virtual.getTotalSize(), position: 'relative' }}>
        <div style={{ transform: `translateY(${items[0]?.start ?? 0}px)` }}>
          {items.map((item) => {
            const n = item.index + 1;
            const picked = sel !== null && n >= sel.from && n <= sel.to;
            return (
              <div className={`log-line${picked ? ' selected' : ''}`} key={item.index} data-line={n}>
                {p.numbered ? (
                  <a
                    className="line-no"
                    href={lineRangeHash({ step: p.stepId, from: n, to: n })}
                    onClick={(e) => select(e, n)}
                    aria-label={`line ${n}`}
                  >
                    {n}
                  </a>
                ) : (
                  <span className="line-no" title="line numbers appear once the whole log has loaded">
                    …
                  </span>
                )}
                {p.showTimes && <span className="line-time">{clock(p.view.times[item.index] ?? 0)}</span>}
                <span className="line-text">
                  {ansiSegments(p.view.lines[item.index] ?? '', { fg: null, bold: false }).map((s, j) => (
                    <span key={j} className={s.className || undefined}>
                      {s.text}
                    </span>
                  ))}
                </span>
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}
