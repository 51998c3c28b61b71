// Reads what the CLI printed, as fly's conventions shape it, and checks expectations against whole lines.
// The CLI runs with styling on, so the lines it renders itself (the bold `initializing` and
// `running PATH ARGS` headers, red errors, the coloured status word, dim notes) are told apart from the
// steps' own output: an expected text is a whole line, and never the `running` header that echoes a
// task's arguments (which would "show" an echo's text before the echo ran).

/** What printed a line. A header is `running PATH ARGS` (it may span lines: args can hold newlines). */
export type LineKind = 'header' | 'rendered' | 'output';

export interface OutputLine {
  kind: LineKind;
  text: string;
}

/** A whole line that is not a header; `{ header }` a `running` header; `{ row }` a table row with these cells. */
export type Expected = string | { header: RegExp } | { row: string[] };

export interface OutputExpectation {
  /** Each entry after the previous one; a group (array) in any order, the next entry after all of it. */
  inOrder?: (Expected | Expected[])[];
  /** Texts that no line (other than a header) may contain. */
  absent?: string[];
}

// eslint-disable-next-line no-control-regex -- ANSI escape sequences are what this module reads
const SGR = /\x1b\[([0-9;]*)m/g;
const CLOSERS = new Set(['0', '22', '39']);

/** Splits styled CLI output into lines, each with what printed it. */
export function parseOutput(raw: string): OutputLine[] {
  const lines: OutputLine[] = [];
  const plain = (text: string) => {
    for (const line of text.split('\n')) if (line.trim() !== '') lines.push({ kind: 'output', text: line });
  };
  let at = 0;
  let open: { code: string; from: number } | undefined;
  for (const m of raw.matchAll(SGR)) {
    const code = m[1] ?? '';
    const end = m.index + m[0].length;
    if (open === undefined) {
      plain(raw.slice(at, m.index));
      if (!CLOSERS.has(code)) open = { code, from: end };
      at = end;
    } else if (CLOSERS.has(code)) {
      const text = raw.slice(open.from, m.index).replace(/\n+$/, '');
      // A header stays whole (its args may hold newlines); any other styled text is a line per line.
      if (open.code === '1' && text.startsWith('running ')) lines.push({ kind: 'header', text });
      else
        for (const line of text.split('\n'))
          if (line.trim() !== '') lines.push({ kind: 'rendered', text: line });
      open = undefined;
      at = end;
    }
  }
  plain(raw.slice(at));
  return lines;
}

/** Output with the styling removed, for messages. */
export function unstyled(raw: string): string {
  return raw.replace(SGR, '');
}

function matches(line: OutputLine, want: Expected): boolean {
  if (typeof want === 'string') return line.kind !== 'header' && line.text.trimEnd() === want;
  if ('header' in want) return line.kind === 'header' && want.header.test(line.text);
  const cells = line.text.trim().split(/\s{2,}/);
  return line.kind !== 'header' && want.row.every((c) => cells.includes(c));
}

function describe(want: Expected): string {
  if (typeof want === 'string') return `line "${want}"`;
  if ('header' in want) return `header matching ${String(want.header)}`;
  return `table row with ${want.row.map((c) => `"${c}"`).join(', ')}`;
}

/** The first unmet expectation, or undefined. */
export function checkLines(lines: OutputLine[], expect: OutputExpectation): string | undefined {
  let pos = 0;
  for (const entry of expect.inOrder ?? []) {
    let end = pos;
    for (const want of Array.isArray(entry) ? entry : [entry]) {
      const at = lines.findIndex((l, i) => i >= pos && matches(l, want));
      if (at < 0)
        return lines.some((l) => matches(l, want))
          ? `${describe(want)} appears, but not after the previous expected line`
          : `no ${describe(want)} in the output`;
      end = Math.max(end, at + 1);
    }
    pos = end;
  }
  for (const text of expect.absent ?? [])
    if (lines.some((l) => l.kind !== 'header' && l.text.includes(text)))
      return `unexpected "${text}" in the output`;
  return undefined;
}
