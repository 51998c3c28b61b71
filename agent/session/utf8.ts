// Log chunks travel as bytes but are shown as text: never cut a chunk inside a UTF-8 sequence, or the
// hub would store a replacement character where the user printed a letter.

/** Splits `buf` into the longest prefix that ends on a character boundary, and the rest (0-3 bytes). */
export function splitAtCharBoundary(buf: Buffer): [Buffer, Buffer] {
  const n = buf.length;
  // Walk back over at most 3 continuation bytes to the start of the last sequence.
  let i = n - 1;
  while (i >= 0 && i >= n - 4 && ((buf[i] ?? 0) & 0xc0) === 0x80) i--;
  if (i < 0) return [buf, Buffer.alloc(0)];
  const lead = buf[i] ?? 0;
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  if (n - i >= need) return [buf, Buffer.alloc(0)];
  return [buf.subarray(0, i), buf.subarray(i)];
}

/** Cuts `buf` into pieces of at most `max` bytes, each ending on a character boundary. */
export function* chunksOf(buf: Buffer, max: number): Generator<Buffer> {
  let offset = 0;
  while (buf.length - offset > max) {
    let [piece] = splitAtCharBoundary(buf.subarray(offset, offset + max));
    // A window made only of a partial sequence cannot happen with max >= 4; guard anyway.
    if (piece.length === 0) piece = buf.subarray(offset, offset + max);
    yield piece;
    offset += piece.length;
  }
  if (offset < buf.length) yield buf.subarray(offset);
}
