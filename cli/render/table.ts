// Column-aligned tables in fly's style: two spaces between columns, the header bold on a terminal.

import type { Style } from './ansi.js';

export function renderTable(header: string[], rows: string[][], style: Style): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const out = [style.bold(line(header)), ...rows.map(line)];
  return out.join('\n') + '\n';
}
