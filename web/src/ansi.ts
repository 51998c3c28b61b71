// ANSI SGR colour codes in log text, as styled segments (other escape sequences are dropped).

export interface Segment {
  text: string;
  className: string;
}

export interface AnsiState {
  fg: number | null;
  bold: boolean;
}

// The ESC character is the point of this pattern.
// eslint-disable-next-line no-control-regex
const ESCAPE = /\x1b\[([0-9;]*)([A-Za-z])/g;

/** Splits `text` into segments; `state` carries colours across lines and chunks. */
export function ansiSegments(text: string, state: AnsiState): Segment[] {
  const out: Segment[] = [];
  let at = 0;
  const push = (s: string) => {
    if (!s) return;
    const classes = [];
    if (state.fg !== null) classes.push(`ansi-fg-${state.fg}`);
    if (state.bold) classes.push('ansi-bold');
    out.push({ text: s, className: classes.join(' ') });
  };
  for (const m of text.matchAll(ESCAPE)) {
    push(text.slice(at, m.index));
    at = m.index + m[0].length;
    if (m[2] !== 'm') continue;
    for (const code of (m[1] || '0').split(';').map(Number)) {
      if (code === 0) Object.assign(state, { fg: null, bold: false });
      else if (code === 1) state.bold = true;
      else if (code === 22) state.bold = false;
      else if (code === 39) state.fg = null;
      else if (code >= 30 && code <= 37) state.fg = code - 30;
      else if (code >= 90 && code <= 97) state.fg = code - 90 + 8;
    }
  }
  push(text.slice(at));
  return out;
}
