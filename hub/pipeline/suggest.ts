// "did you mean ...?" for a misspelt key: the closest known key by edit distance, when it is close enough
// that the suggestion is more likely right than noise. Pure.

/** Levenshtein distance (insertions, deletions, substitutions), one row at a time. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      row.push(Math.min((previous[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, substitution));
    }
    previous = row;
  }
  return previous[b.length] ?? 0;
}

/**
 * The known key closest to `key`: at most 2 edits, and at most a third of the key's length (so "do" is not
 * taken for "in"). Ties go to the first in `known`.
 */
export function closestKey(key: string, known: Iterable<string>): string | undefined {
  const limit = Math.min(2, Math.floor(key.length / 3));
  let best: { key: string; d: number } | undefined;
  for (const candidate of known) {
    const d = distance(key.toLowerCase(), candidate.toLowerCase());
    if (d <= limit && (!best || d < best.d)) best = { key: candidate, d };
  }
  return best?.key;
}

/** "; did you mean `task`?" or "" (appended to an unknown-key message). */
export function didYouMean(key: string, known: Iterable<string>): string {
  const match = closestKey(key, known);
  return match === undefined ? '' : `; did you mean \`${match}\`?`;
}
