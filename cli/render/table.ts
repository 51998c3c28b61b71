// Column-aligned tables in fly's style: two spaces between columns, the header bold on a terminal.

import type { Style } from './ansi.js';

/**
 * The table's text; the header row only when `withHeader` (fly prints it on a terminal or with
 * --print-table-headers, so a script reading a pipe gets only rows), and then it counts in the widths.
 */
export function renderTable(header: string[], rows: string[][], style: Style, withHeader = true): string {
  const measured = withHeader ? [header, ...rows] : rows;
  const widths = header.map((_, i) => Math.max(0, ...measured.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const out = [...(withHeader ? [style.bold(line(header))] : []), ...rows.map(line)];
  return out.length === 0 ? '' : out.join('\n') + '\n';
}
