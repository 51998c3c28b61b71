// Rows written a bounded number per statement: SQLite and PostgreSQL both cap the bound parameters of
// one statement, so a batch of any size is split into statements of at most `size` rows.

/** Consecutive slices of `items`, each `size` long but the last; none for an empty list. */
export function* chunks<T>(items: readonly T[], size: number): Generator<T[]> {
  if (!Number.isInteger(size) || size < 1)
    throw new RangeError(`chunk size must be a positive integer, not ${size}`);
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}
