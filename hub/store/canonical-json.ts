// JSON with object keys sorted at every level: equal values give equal text. The identity of a
// resource version in the store, and the input of the hashes that key version histories and caches.

/** Canonical JSON text of a JSON-safe value. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  // undefined (and functions) have no JSON form: they stand for null, as inside arrays.
  return value === undefined ? 'null' : JSON.stringify(value);
}
