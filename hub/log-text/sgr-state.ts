// The ANSI colour and style (SGR) state a terminal would be in after some log text, kept as the shortest
// escape sequence that recreates it, so a client shown a page from the middle of a log can start that page
// in the colours the lines above left set (a terminal carries them from line to line).

// The ESC character is the point of these patterns.
// eslint-disable-next-line no-control-regex
const SEQUENCE = /\x1b\[([0-9;:]*)([@-~])/g;
/** An escape sequence cut off at the end of a chunk: finished by the next chunk. */
// eslint-disable-next-line no-control-regex
const CUT = /\x1b(\[[0-9;:]*)?$/;

/** Where each kind of attribute sits in the recreating sequence; one value per slot. */
const SLOTS = [
  'bold',
  'faint',
  'italic',
  'underline',
  'blink',
  'inverse',
  'hidden',
  'strike',
  'fg',
  'bg',
] as const;
type Slot = (typeof SLOTS)[number];

/** Codes that set one slot, and the codes that clear slots. */
const SETS: Partial<Record<number, Slot>> = {
  1: 'bold',
  2: 'faint',
  3: 'italic',
  4: 'underline',
  5: 'blink',
  6: 'blink',
  7: 'inverse',
  8: 'hidden',
  9: 'strike',
  21: 'underline',
};
const CLEARS: Partial<Record<number, Slot[]>> = {
  22: ['bold', 'faint'],
  23: ['italic'],
  24: ['underline'],
  25: ['blink'],
  27: ['inverse'],
  28: ['hidden'],
  29: ['strike'],
  39: ['fg'],
  49: ['bg'],
};

export class SgrState {
  private readonly slots = new Map<Slot, string>();
  /** The start of an escape sequence the last text ended in. */
  private cut = '';

  /** The state `sequence()` and `unfinished` describe (as stored with a log's position). */
  static from(sequence: string, unfinished: string): SgrState {
    const state = new SgrState();
    state.feed(sequence + unfinished);
    return state;
  }

  /** The start of an escape sequence the last text ended in ('' when none): the next text finishes it. */
  get unfinished(): string {
    return this.cut;
  }

  /** Applies the SGR sequences in `text` (the next text of the same log). */
  feed(text: string): void {
    if (this.cut) text = this.cut + text;
    this.cut = '';
    if (!text.includes('\x1b')) return;
    for (const m of text.matchAll(SEQUENCE)) if (m[2] === 'm') this.apply(m[1] ?? '');
    const tail = CUT.exec(text);
    if (tail) this.cut = tail[0];
  }

  /** The sequence that sets this state from a reset one ('' when nothing is set). */
  sequence(): string {
    const codes = SLOTS.flatMap((s) => this.slots.get(s) ?? []);
    return codes.length ? `\x1b[${codes.join(';')}m` : '';
  }

  private apply(params: string): void {
    // Colon sub-parameters (38:5:n) are read as semicolons are.
    const codes = (params || '0').split(/[;:]/).map((p) => (p === '' ? 0 : Number(p)));
    for (let i = 0; i < codes.length; i++) {
      const code = codes[i] ?? 0;
      if (code === 0) this.slots.clear();
      else if (SETS[code]) this.slots.set(SETS[code], String(code));
      else if (CLEARS[code]) for (const slot of CLEARS[code]) this.slots.delete(slot);
      else if ((code >= 30 && code <= 37) || (code >= 90 && code <= 97)) this.slots.set('fg', String(code));
      else if ((code >= 40 && code <= 47) || (code >= 100 && code <= 107)) this.slots.set('bg', String(code));
      else if (code === 38 || code === 48) {
        // 38;5;N (palette) or 38;2;R;G;B (true colour): the parameters after it belong to it.
        const take = codes[i + 1] === 5 ? 2 : codes[i + 1] === 2 ? 4 : 0;
        if (take === 0) return;
        const values = codes.slice(i + 2, i + 1 + take);
        // Out of range (past 255, or missing): no colour, as a terminal ignores it; the page does too.
        if (values.length === take - 1 && values.every((v) => Number.isInteger(v) && v >= 0 && v <= 255))
          this.slots.set(code === 38 ? 'fg' : 'bg', codes.slice(i, i + 1 + take).join(';'));
        i += take;
      }
    }
  }
}
