// A step's log as the build page holds it: colours carried from line to line (in the newest lines, and in
// a page read from the middle of the log, from the state the hub says the lines above left set), lines
// counted without being held, and only a few pages held however far the reader scrolls.

import { describe, expect, it } from 'vitest';
import { ansiSegments, PLAIN } from './ansi.js';
import { positionOf, StepLog } from './log-window.js';

const ESC = '\x1b';
const colours = (log: StepLog, i: number) => {
  const line = log.line(i);
  if (!line) throw new Error(`line ${i} not held`);
  return ansiSegments(line.text, line.state).map((s) => [s.text, s.className]);
};
/** Each segment's text with its classes and inline colours. */
const styled = (log: StepLog, i: number) => {
  const line = log.line(i);
  if (!line) throw new Error(`line ${i} not held`);
  return ansiSegments(line.text, line.state).map((s) => [s.text, s.className, s.style ?? {}]);
};

describe('a step log', () => {
  it('carries a colour set on one line to the lines after it until it is reset', () => {
    const log = new StepLog();
    log.append(`plain\n${ESC}[1;31mred `, 1000);
    log.append(`and bold\nstill red\n${ESC}[32mgreen${ESC}[0m plain\nplain\n`, 2000);
    expect(log.count).toBe(5);
    expect(colours(log, 0)).toEqual([['plain', '']]);
    expect(colours(log, 1)).toEqual([['red and bold', 'ansi-fg-1 ansi-bold']]);
    expect(log.line(1)?.time).toBe(1000);
    expect(colours(log, 2)).toEqual([['still red', 'ansi-fg-1 ansi-bold']]);
    expect(colours(log, 3)).toEqual([
      ['green', 'ansi-fg-2 ansi-bold'],
      [' plain', ''],
    ]);
    expect(colours(log, 4)).toEqual([['plain', '']]);
  });

  it('starts a page from the middle in the colours the hub says the lines above left set', () => {
    const log = new StepLog();
    // The newest lines first: line 500 on, with yellow set somewhere above them.
    log.startAt(positionOf({ line: 500, partial: false, sgr: `${ESC}[33m` }));
    log.append('line 501\n', 0);
    // Then, out of order, a page from within line 100 (its start is dropped: the line began earlier).
    const from = positionOf({ line: 100, partial: true, sgr: `${ESC}[1;31m` });
    log.addPage(
      from,
      [{ text: `end of 101${ESC}[22m\nline 102\nline 103 ${ESC}[0m\nline 104\nline 1`, time: 0 }],
      0,
    );
    expect(log.count).toBe(501);
    expect(log.line(100)).toBeUndefined();
    expect(colours(log, 101)).toEqual([['line 102', 'ansi-fg-1']]);
    expect(colours(log, 102)).toEqual([['line 103 ', 'ansi-fg-1']]);
    expect(colours(log, 103)).toEqual([['line 104', '']]);
    // Its last line did not end in the page: not held, so not shown cut short.
    expect(log.line(104)).toBeUndefined();
    expect(colours(log, 500)).toEqual([['line 501', 'ansi-fg-3']]);
    expect(log.missing(95, 110)).toBe(95);
    expect(log.missing(101, 103)).toBeUndefined();
  });

  it('shows 256-colour and true-colour codes in their colours, carried across lines and pages', () => {
    const log = new StepLog();
    // The hub's state for the newest page: orange (palette 208) on a true-colour navy, bold.
    log.startAt(positionOf({ line: 10, partial: false, sgr: `${ESC}[1;38;5;208;48;2;10;20;30m` }));
    log.append(`orange on navy\nstill ${ESC}[38;5;9mbright red${ESC}[39m default${ESC}[49m\n`, 0);
    log.append(`${ESC}[38;2;255;0;128mpink\n${ESC}[48;5;240mon grey\n${ESC}[0mplain\n`, 0);
    log.append(
      `${ESC}[38;5;16mblack ${ESC}[38;5;231mwhite ${ESC}[38;5;255mgrey ${ESC}[38;5;256mstill grey\n`,
      0,
    );
    const navy = { backgroundColor: '#0a141e' };
    expect(styled(log, 10)).toEqual([['orange on navy', 'ansi-bold', { color: '#ff8700', ...navy }]]);
    expect(styled(log, 11)).toEqual([
      ['still ', 'ansi-bold', { color: '#ff8700', ...navy }],
      ['bright red', 'ansi-fg-9 ansi-bold', navy],
      [' default', 'ansi-bold', navy],
    ]);
    expect(styled(log, 12)).toEqual([['pink', 'ansi-bold', { color: '#ff0080' }]]);
    expect(styled(log, 13)).toEqual([
      ['on grey', 'ansi-bold', { color: '#ff0080', backgroundColor: '#585858' }],
    ]);
    expect(styled(log, 14)).toEqual([['plain', '', {}]]);
    // The cube's corners, the last grey, and an index past the palette that changes nothing.
    expect(styled(log, 15)).toEqual([
      ['black ', '', { color: '#000000' }],
      ['white ', '', { color: '#ffffff' }],
      ['grey ', '', { color: '#eeeeee' }],
      ['still grey', '', { color: '#eeeeee' }],
    ]);
  });

  it('counts lines it does not hold, and holds a few pages only', () => {
    const log = new StepLog();
    log.startAt({ line: 1_000_000, partial: false, state: PLAIN });
    expect(log.count).toBe(1_000_000);
    const page = (first: number) =>
      Array.from({ length: 1000 }, (_, i) => `${first + i + 1}`).join('\n') + '\n';
    for (let first = 0; first < 100_000; first += 1000)
      log.addPage({ line: first, partial: false, state: PLAIN }, [{ text: page(first), time: 0 }], 99_500);
    expect(log.held).toBeLessThanOrEqual(12 * 1000 + 1);
    // The pages kept are the ones nearest the reader.
    expect(log.line(99_499)?.text).toBe('99500');
    expect(log.line(0)).toBeUndefined();
  });

  it('keeps the newest lines as they grow, in chunks it can drop', () => {
    const log = new StepLog();
    for (let i = 1; i <= 200_000; i++) log.append(i % 2 ? `${i}` : `-${i}\n`, i);
    expect(log.count).toBe(100_000);
    expect(log.line(99_999)?.text).toBe('199999-200000');
    expect(log.line(0)).toBeUndefined();
    expect(log.held).toBeLessThanOrEqual(13 * 4001);
    log.append(`${ESC}[34mblue`, 0);
    log.append(' still\n', 0);
    expect(colours(log, 100_000)).toEqual([['blue still', 'ansi-fg-4']]);
  });
});
