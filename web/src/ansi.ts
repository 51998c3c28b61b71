// ANSI SGR colour codes in log text, as styled segments (other escape sequences are dropped). The state
// carries from line to line as a terminal's does: a colour set on one line holds until a later one resets
// it. States are immutable and shared (one object per distinct state), so a log can keep the state at the
// start of every line it holds for the price of a pointer.

export interface Segment {
  text: string;
  className: string;
}

export interface AnsiState {
  /** 0-15: the basic and bright colours (and the first 16 of the 256-colour palette); null: default. */
  readonly fg: number | null;
  readonly bg: number | null;
  readonly bold: boolean;
  readonly italic: boolean;
  readonly underline: boolean;
  /** The classes that show it ('' for none). */
  readonly className: string;
}

const states = new Map<string, AnsiState>();

function state(fg: number | null, bg: number | null, bold: boolean, italic: boolean, underline: boolean) {
  const key = `${fg};${bg};${bold};${italic};${underline}`;
  let s = states.get(key);
  if (!s) {
    const classes = [
      fg !== null && `ansi-fg-${fg}`,
      bg !== null && `ansi-bg-${bg}`,
      bold && 'ansi-bold',
      italic && 'ansi-italic',
      underline && 'ansi-underline',
    ];
    s = { fg, bg, bold, italic, underline, className: classes.filter(Boolean).join(' ') };
    states.set(key, s);
  }
  return s;
}

/** No colour, no style: where every log starts. */
export const PLAIN: AnsiState = state(null, null, false, false, false);

// The ESC character is the point of this pattern.
// eslint-disable-next-line no-control-regex
const ESCAPE = /\x1b\[([0-9;:]*)([@-~])/g;

/** The state after the SGR parameters `params` (the `1;31` of ESC[1;31m) in state `s`. */
function apply(s: AnsiState, params: string): AnsiState {
  let { fg, bg, bold, italic, underline } = s;
  const codes = (params || '0').split(/[;:]/).map((p) => (p === '' ? 0 : Number(p)));
  for (let i = 0; i < codes.length; i++) {
    const code = codes[i] ?? 0;
    if (code === 0) [fg, bg, bold, italic, underline] = [null, null, false, false, false];
    else if (code === 1) bold = true;
    else if (code === 22) bold = false;
    else if (code === 3) italic = true;
    else if (code === 23) italic = false;
    else if (code === 4 || code === 21) underline = true;
    else if (code === 24) underline = false;
    else if (code >= 30 && code <= 37) fg = code - 30;
    else if (code >= 90 && code <= 97) fg = code - 90 + 8;
    else if (code === 39) fg = null;
    else if (code >= 40 && code <= 47) bg = code - 40;
    else if (code >= 100 && code <= 107) bg = code - 100 + 8;
    else if (code === 49) bg = null;
    else if (code === 38 || code === 48) {
      // 38;5;N (palette: its first 16 are the basic colours) or 38;2;R;G;B (true colour, shown as default).
      const palette = codes[i + 1] === 5;
      const n = codes[i + 2] ?? -1;
      const colour = palette && n >= 0 && n < 16 ? n : null;
      if (code === 38) fg = colour;
      else bg = colour;
      i += palette ? 2 : codes[i + 1] === 2 ? 4 : 0;
    }
  }
  return state(fg, bg, bold, italic, underline);
}

/** The state after `text` in state `s` (the same object when `text` changes nothing). */
export function ansiAfter(text: string, s: AnsiState): AnsiState {
  if (!text.includes('\x1b')) return s;
  for (const m of text.matchAll(ESCAPE)) if (m[2] === 'm') s = apply(s, m[1] ?? '');
  return s;
}

/** Splits `text`, shown in state `s`, into styled segments. */
export function ansiSegments(text: string, s: AnsiState): Segment[] {
  if (!text.includes('\x1b')) return [{ text, className: s.className }];
  const out: Segment[] = [];
  let at = 0;
  for (const m of text.matchAll(ESCAPE)) {
    if (m.index > at) out.push({ text: text.slice(at, m.index), className: s.className });
    at = m.index + m[0].length;
    if (m[2] === 'm') s = apply(s, m[1] ?? '');
  }
  if (at < text.length) out.push({ text: text.slice(at), className: s.className });
  return out;
}
