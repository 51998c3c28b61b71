// ANSI SGR colour codes in log text, as styled segments (other escape sequences are dropped). The state
// carries from line to line as a terminal's does: a colour set on one line holds until a later one resets
// it. States are immutable and shared (one object per distinct state), so a log can keep the state at the
// start of every line it holds for the price of a pointer.

/** Inline colours: those of the 256-colour palette past the first 16, and true colour. */
export interface SegmentStyle {
  color?: string;
  backgroundColor?: string;
}

export interface Segment {
  text: string;
  className: string;
  style?: SegmentStyle;
}

/**
 * A colour: 0-15, the basic and bright colours (classes, themed with the page); a CSS colour (`#rrggbb`),
 * the rest of the 256-colour palette and true colour.
 */
export type AnsiColour = number | string;

export interface AnsiState {
  /** null: the default colour. */
  readonly fg: AnsiColour | null;
  readonly bg: AnsiColour | null;
  readonly bold: boolean;
  readonly italic: boolean;
  readonly underline: boolean;
  /** The classes that show it ('' for none). */
  readonly className: string;
  /** The inline colours that show it (undefined for none). */
  readonly style: SegmentStyle | undefined;
}

const states = new Map<string, AnsiState>();

function state(
  fg: AnsiColour | null,
  bg: AnsiColour | null,
  bold: boolean,
  italic: boolean,
  underline: boolean,
) {
  const key = `${fg};${bg};${bold};${italic};${underline}`;
  let s = states.get(key);
  if (!s) {
    const classes = [
      typeof fg === 'number' && `ansi-fg-${fg}`,
      typeof bg === 'number' && `ansi-bg-${bg}`,
      bold && 'ansi-bold',
      italic && 'ansi-italic',
      underline && 'ansi-underline',
    ];
    const style: SegmentStyle = {};
    if (typeof fg === 'string') style.color = fg;
    if (typeof bg === 'string') style.backgroundColor = bg;
    s = {
      fg,
      bg,
      bold,
      italic,
      underline,
      className: classes.filter(Boolean).join(' '),
      style: typeof fg === 'string' || typeof bg === 'string' ? style : undefined,
    };
    states.set(key, s);
  }
  return s;
}

/** No colour, no style: where every log starts. */
export const PLAIN: AnsiState = state(null, null, false, false, false);

const hex = (n: number) => n.toString(16).padStart(2, '0');
const rgb = (r: number, g: number, b: number) => `#${hex(r)}${hex(g)}${hex(b)}`;
/** The levels of each channel in the palette's 6×6×6 cube (xterm's). */
const CUBE = [0, 95, 135, 175, 215, 255];

/** Colour `n` of the 256-colour palette: 0-15 the basic ones, a 6×6×6 cube, then 24 greys (xterm's). */
export function paletteColour(n: number): AnsiColour {
  if (n < 16) return n;
  if (n < 232) {
    const i = n - 16;
    return rgb(CUBE[Math.floor(i / 36)] ?? 0, CUBE[Math.floor(i / 6) % 6] ?? 0, CUBE[i % 6] ?? 0);
  }
  const grey = 8 + (n - 232) * 10;
  return rgb(grey, grey, grey);
}

/**
 * The colour of `38;5;N` or `38;2;R;G;B` (or 48;…) whose parameters after the 38 are `codes[at…]`, and how
 * many parameters it took; null colour when they are out of range (the colour is left unchanged).
 */
function extendedColour(codes: number[], at: number): { colour: AnsiColour | null; took: number } {
  const byte = (v: number | undefined): v is number =>
    v !== undefined && Number.isInteger(v) && v >= 0 && v <= 255;
  if (codes[at] === 5) {
    const n = codes[at + 1];
    return { colour: byte(n) ? paletteColour(n) : null, took: 2 };
  }
  if (codes[at] === 2) {
    const [r, g, b] = [codes[at + 1], codes[at + 2], codes[at + 3]];
    return { colour: byte(r) && byte(g) && byte(b) ? rgb(r, g, b) : null, took: 4 };
  }
  return { colour: null, took: 0 };
}

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
      // 38;5;N (the 256-colour palette) or 38;2;R;G;B (true colour): the parameters after it are its own.
      const { colour, took } = extendedColour(codes, i + 1);
      if (colour !== null && code === 38) fg = colour;
      else if (colour !== null) bg = colour;
      i += took;
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

function segment(text: string, s: AnsiState): Segment {
  return s.style ? { text, className: s.className, style: s.style } : { text, className: s.className };
}

/** Splits `text`, shown in state `s`, into styled segments. */
export function ansiSegments(text: string, s: AnsiState): Segment[] {
  if (!text.includes('\x1b')) return [segment(text, s)];
  const out: Segment[] = [];
  let at = 0;
  for (const m of text.matchAll(ESCAPE)) {
    if (m.index > at) out.push(segment(text.slice(at, m.index), s));
    at = m.index + m[0].length;
    if (m[2] === 'm') s = apply(s, m[1] ?? '');
  }
  if (at < text.length) out.push(segment(text.slice(at), s));
  return out;
}
