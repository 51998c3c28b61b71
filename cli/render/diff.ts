// The set-pipeline preview: a unified line diff (3 lines of context) of the stored config against the
// new file; `-` lines red and `+` lines green on a terminal.

import { structuredPatch } from 'diff';
import type { Style } from './ansi.js';

/** Returns undefined when the two texts are identical. */
export function renderConfigDiff(oldText: string, newText: string, style: Style): string | undefined {
  if (oldText === newText) return undefined;
  const patch = structuredPatch('current', 'new', oldText, newText, undefined, undefined, { context: 3 });
  let out = '';
  for (const hunk of patch.hunks) {
    // As in unified diff (and jsdiff's formatPatch), an empty side is numbered from the line before it.
    const oldStart = hunk.oldLines === 0 ? hunk.oldStart - 1 : hunk.oldStart;
    const newStart = hunk.newLines === 0 ? hunk.newStart - 1 : hunk.newStart;
    out += style.cyan(`@@ -${oldStart},${hunk.oldLines} +${newStart},${hunk.newLines} @@`) + '\n';
    for (const line of hunk.lines) {
      if (line.startsWith('\\')) continue; // "\ No newline at end of file"
      if (line.startsWith('-')) out += style.red(line) + '\n';
      else if (line.startsWith('+')) out += style.green(line) + '\n';
      else out += line + '\n';
    }
  }
  return out;
}
