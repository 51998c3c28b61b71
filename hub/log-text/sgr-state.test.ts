// The colour state a terminal would be in after some log text, as the shortest sequence recreating it:
// basic, 256-colour and true-colour codes, resets of one attribute or all, and a sequence cut between two
// chunks; and a state stored as its sequence and unfinished escape goes on as the live one does.

import { describe, expect, it } from 'vitest';
import { SgrState } from './sgr-state.js';

const ESC = '\x1b';
const after = (...texts: string[]) => {
  const s = new SgrState();
  for (const t of texts) s.feed(t);
  return s;
};

describe('SGR state', () => {
  it('keeps 256-colour and true-colour codes, foreground and background, with the basic ones', () => {
    expect(after(`${ESC}[38;5;208mx`).sequence()).toBe(`${ESC}[38;5;208m`);
    expect(after(`${ESC}[48;2;10;20;30mx`).sequence()).toBe(`${ESC}[48;2;10;20;30m`);
    expect(after(`${ESC}[1;38;2;255;0;128;48;5;240mx\nnext line`).sequence()).toBe(
      `${ESC}[1;38;2;255;0;128;48;5;240m`,
    );
    // Colon sub-parameters, as some tools write them.
    expect(after(`${ESC}[38:5:33mx`).sequence()).toBe(`${ESC}[38;5;33m`);
    // A later colour replaces an earlier one of the same kind; 39/49 and 0 reset.
    expect(after(`${ESC}[38;5;208m`, `${ESC}[31m`).sequence()).toBe(`${ESC}[31m`);
    expect(after(`${ESC}[31;48;5;17m`, `${ESC}[38;2;1;2;3m`).sequence()).toBe(`${ESC}[38;2;1;2;3;48;5;17m`);
    expect(after(`${ESC}[38;5;208;48;2;1;2;3m`, `${ESC}[39m`).sequence()).toBe(`${ESC}[48;2;1;2;3m`);
    expect(after(`${ESC}[38;5;208;48;2;1;2;3m`, `${ESC}[49m`).sequence()).toBe(`${ESC}[38;5;208m`);
    expect(after(`${ESC}[1;38;5;208m`, `${ESC}[m`).sequence()).toBe('');
    // Out of the palette or the byte range: the colour is left as it was, as the page leaves it.
    expect(after(`${ESC}[38;5;208m`, `${ESC}[38;5;256;1m`).sequence()).toBe(`${ESC}[1;38;5;208m`);
    expect(after(`${ESC}[38;2;1;2;300m`).sequence()).toBe('');
  });

  it('finishes a sequence cut between chunks with the next one', () => {
    const s = after(`red ${ESC}[38;5;2`);
    expect(s.sequence()).toBe('');
    expect(s.unfinished).toBe(`${ESC}[38;5;2`);
    s.feed('08morange');
    expect(s.sequence()).toBe(`${ESC}[38;5;208m`);
    expect(s.unfinished).toBe('');
  });

  it('goes on from a stored sequence and unfinished escape as the live state does', () => {
    const texts = [`${ESC}[1;48;2;9;9;9mbold`, ` on grey ${ESC}[38;5`, `;99m purple ${ESC}[22m`, 'done'];
    for (let cut = 0; cut <= texts.length; cut++) {
      const live = after(...texts.slice(0, cut));
      const stored = SgrState.from(live.sequence(), live.unfinished);
      for (const t of texts.slice(cut)) stored.feed(t);
      expect(stored.sequence(), `stored after ${cut} texts`).toBe(after(...texts).sequence());
    }
    expect(after(...texts).sequence()).toBe(`${ESC}[38;5;99;48;2;9;9;9m`);
  });
});
