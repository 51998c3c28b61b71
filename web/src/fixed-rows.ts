// Which rows of a scrolling box are in view when every row has the same height: arithmetic on the scroll
// position, so a million-row log costs what a short one does. (A general virtualiser such as
// @tanstack/react-virtual measures every row on each change of their count: ~1 s for a million rows, on
// every render of a growing log.)

import { useEffect, useState, type RefObject } from 'react';

/** Rows rendered beyond those in view on each side, so a short scroll shows no gap. */
const OVERSCAN = 20;

export interface RowWindow {
  /** The first and last row (from 0) to render; last < first when there are none. */
  first: number;
  last: number;
}

/**
 * The rows of `box` to render, kept up to date as it scrolls or changes size. It measures the box in an
 * effect: scroll the box in an effect declared before this hook, and the first rows rendered are those.
 */
export function useFixedRows(box: RefObject<HTMLElement | null>, count: number, rowPx: number): RowWindow {
  const [view, setView] = useState({ top: 0, height: 0 });
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const update = () => setView({ top: el.scrollTop, height: el.clientHeight });
    update();
    el.addEventListener('scroll', update, { passive: true });
    const resized = new ResizeObserver(update);
    resized.observe(el);
    return () => {
      el.removeEventListener('scroll', update);
      resized.disconnect();
    };
  }, [box, count > 0]);
  // None until the box has been measured: the first rows would often not be the ones shown (a log that
  // follows its tail is scrolled to the end before then).
  if (view.height === 0) return { first: 0, last: -1 };
  const first = Math.max(0, Math.floor(view.top / rowPx) - OVERSCAN);
  const last = Math.min(count - 1, Math.ceil((view.top + view.height) / rowPx) + OVERSCAN);
  return { first, last };
}
