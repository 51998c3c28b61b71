// One step's log, virtualised: only the lines in view (and a few around) are in the page (fixed-rows.ts),
// so a step with a million lines scrolls as one with ten. Lines have a fixed height and do not wrap; each line number is
// a link to that line (shift-click: to the range from the last one clicked); timestamps on demand.
// Lines not held yet show as "…" while the page with them is fetched (`onRange` asks for it); each line
// starts in the colours the lines above left set.

import { useEffect, useRef, type MouseEvent } from 'react';
import { ansiSegments } from './ansi.js';
import type { StepView } from './build-model.js';
import { useFixedRows } from './fixed-rows.js';

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
  follow: boolean;
  showTimes: boolean;
  selected: LineRange | null;
  /** The range to bring into view once (from the URL); null when there is none. */
  target: LineRange | null;
  onSelect: (r: LineRange) => void;
  /** The reader moved up with the keyboard: stop following the tail (the page handles the wheel). */
  onScrollUp: () => void;
  /** Lines `from`..`to` (from 0) of the step are in view. */
  onRange: (step: string, from: number, to: number) => void;
}

export function LogView(p: LogViewProps) {
  const box = useRef<HTMLDivElement>(null);
  const log = p.view.log;
  const count = log.count;
  // Before the rows are measured (useFixedRows), so that a log following its tail renders its end first.
  useEffect(() => {
    const el = box.current;
    if (p.follow && el) el.scrollTop = el.scrollHeight;
  }, [p.follow, p.version, count]);
  const { first, last } = useFixedRows(box, count, LINE_PX);
  const reached = useRef(false);

  useEffect(() => {
    const t = p.target;
    const el = box.current;
    if (!t || !el || reached.current || t.step !== p.stepId || count < t.from) return;
    reached.current = true;
    el.scrollTop = (t.from - 1) * LINE_PX - el.clientHeight / 2;
    el.scrollIntoView({ block: 'center' });
  }, [p.target, p.stepId, count]);

  const { onRange, stepId, follow } = p;
  useEffect(() => {
    // While following, only the end is wanted: the box is about to be scrolled there.
    if (last >= first && (!follow || last === count - 1)) onRange(stepId, first, last);
  }, [onRange, stepId, first, last, follow, count, p.version]);

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
      <div style={{ height: count * LINE_PX, position: 'relative' }}>
        <div style={{ transform: `translateY(${first * LINE_PX}px)` }}>
          {Array.from({ length: Math.max(0, last - first + 1) }, (_, k) => {
            const index = first + k;
            const n = index + 1;
            const picked = sel !== null && n >= sel.from && n <= sel.to;
            const line = log.line(index);
            return (
              <div className={`log-line${picked ? ' selected' : ''}`} key={index} data-line={n}>
                <a
                  className="line-no"
                  href={lineRangeHash({ step: p.stepId, from: n, to: n })}
                  onClick={(e) => select(e, n)}
                  aria-label={`line ${n}`}
                >
                  {n}
                </a>
                {line === undefined ? (
                  <span className="line-text muted" title="being fetched">
                    …
                  </span>
                ) : (
                  <>
                    {p.showTimes && <span className="line-time">{clock(line.time)}</span>}
                    <span className="line-text">
                      {ansiSegments(line.text, line.state).map((s, j) => (
                        <span key={j} className={s.className || undefined} style={s.style}>
                          {s.text}
                        </span>
                      ))}
                    </span>
                  </>
                )}
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}
