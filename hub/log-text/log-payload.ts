// A log chunk's payload kept as the bytes the agent sent, beside its event's data (migration 0026),
// rather than as a string inside the data's JSON: the store binds the bytes as they are, the line index
// counts on them, and an SSE frame is written from them. Only a reader that asks for the whole data JSON
// (`BuildEvent.json`) pays for decoding the payload into it.

import { isUtf8 } from 'node:buffer';
import type { BuildEvent } from '../store/store.js';

/**
 * The payload bytes to store for a chunk: the chunk itself when it is valid UTF-8 (nearly always);
 * otherwise its text with each invalid sequence replaced by U+FFFD, as decoding it always showed it.
 */
export function logPayloadBytes(chunk: Buffer): Buffer {
  return isUtf8(chunk) ? chunk : Buffer.from(chunk.toString('utf8'), 'utf8');
}

/** For each byte: 0 if JSON keeps it as it is, else the character after its backslash ('u': \u00XX). */
const ESCAPES = new Uint8Array(256);
ESCAPES.fill(0x75, 0, 0x20);
for (const [byte, letter] of [
  [0x08, 'b'],
  [0x09, 't'],
  [0x0a, 'n'],
  [0x0c, 'f'],
  [0x0d, 'r'],
  [0x22, '"'],
  [0x5c, '\\'],
] as const)
  ESCAPES[byte] = letter.charCodeAt(0);
const HEX = Buffer.from('0123456789abcdef');
/** Where literals are escaped before their frame's size is known; grown to the largest payload seen. */
let scratch = Buffer.allocUnsafeSlow(6 * 64 * 1024 + 2);
/** The scratch's words written at any offset, in the byte order the payload's words were read in. */
let scratchView = new DataView(scratch.buffer, scratch.byteOffset, scratch.length);
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * `head`, the payload as a JSON string literal, and `tail`, in one buffer. JSON escapes only ASCII
 * characters (controls, quote, backslash) and valid UTF-8 holds no lone surrogate, so escaping the
 * bytes one by one is escaping the text: the payload is never decoded, and no JS string is made of it
 * (two strings of a chunk's size each, as `JSON.stringify` of its latin1 reading made them, kept the
 * hub's garbage collector busy). Most bytes need no escape, so the payload is tested four bytes at a
 * time (aligned 32-bit words, as countNewlines reads them) and a clean word is copied without looking
 * its bytes up: 1.2-1.5x less CPU on lines of 80 to 200 bytes (docs/performance.md, session 9).
 */
export function frameWithPayload(
  head: Buffer,
  payload: Buffer,
  tail: Buffer,
  /** Where the frame goes, given its size (the SSE stream's slabs: frame-slabs.ts). */
  allocate: (size: number) => Buffer = (size) => Buffer.allocUnsafe(size),
): Buffer {
  if (scratch.length < payload.length * 6 + 2) {
    scratch = Buffer.allocUnsafeSlow(payload.length * 6 + 2);
    scratchView = new DataView(scratch.buffer, scratch.byteOffset, scratch.length);
  }
  const out = scratch;
  const outView = scratchView;
  let o = 0;
  out[o++] = 0x22;
  const start = payload.byteOffset;
  const lead = Math.min(payload.length, (4 - (start & 3)) & 3);
  const words = (payload.length - lead) >>> 2;
  let i = 0;
  for (; i < lead; i++) o = escapeByte(out, o, payload[i] ?? 0);
  if (words > 0) {
    const view = new Int32Array(payload.buffer, start + lead, words);
    for (let w = 0; w < words; w++, i += 4) {
      const x = view[w] ?? 0;
      if (needsEscape(x)) {
        for (let j = i; j < i + 4; j++) {
          const byte = payload[j] ?? 0;
          // A newline, by far the commonest escape, without the table.
          if (byte === 0x0a) {
            out[o] = 0x5c;
            out[o + 1] = 0x6e;
            o += 2;
          } else o = escapeByte(out, o, byte);
        }
      } else {
        // The word's four bytes in one store, in the order they were read.
        outView.setInt32(o, x, HOST_LITTLE_ENDIAN);
        o += 4;
      }
    }
  }
  for (; i < payload.length; i++) o = escapeByte(out, o, payload[i] ?? 0);
  out[o++] = 0x22;
  const frame = allocate(head.length + o + tail.length);
  head.copy(frame, 0);
  out.copy(frame, head.length, 0, o);
  tail.copy(frame, head.length + o);
  return frame;
}

/**
 * Whether any of the word's four bytes is one JSON escapes: below 0x20, a quote or a backslash. The
 * classic "has a byte below n" test (a borrow can only flag bytes above a true hit, so the answer for
 * the word is exact); bytes from 0x80 up have bit 7 set in x and are masked out by `~x`.
 */
function needsEscape(x: number): boolean {
  const quote = x ^ 0x22222222;
  const backslash = x ^ 0x5c5c5c5c;
  const flags =
    ((x - 0x20202020) & ~x) | ((quote - 0x01010101) & ~quote) | ((backslash - 0x01010101) & ~backslash);
  return (flags & 0x80808080) !== 0;
}

/** Writes one byte of the payload at `o`, escaped if JSON needs it; returns the next offset. */
function escapeByte(out: Buffer, o: number, byte: number): number {
  const escape = ESCAPES[byte] ?? 0;
  if (escape === 0) {
    out[o] = byte;
    return o + 1;
  }
  out[o] = 0x5c;
  out[o + 1] = escape;
  if (escape !== 0x75) return o + 2;
  out[o + 2] = 0x30;
  out[o + 3] = 0x30;
  out[o + 4] = HEX[byte >> 4] ?? 0;
  out[o + 5] = HEX[byte & 15] ?? 0;
  return o + 6;
}

/**
 * The data JSON (an object) opened for a payload field at its end: `{...,"payload":`. The payload's
 * literal and `}` complete it.
 */
export function payloadFieldPrefix(data: string): string {
  const head = data.slice(0, data.lastIndexOf('}'));
  return `${head}${head.trimEnd() === '{' ? '' : ','}"payload":`;
}

/** A stored event whose log payload is kept apart: `json` decodes it into the data once, when read. */
export function eventWithPayload(
  fields: Omit<BuildEvent, 'json' | 'logPayload'>,
  data: string,
  bytes: Buffer,
): BuildEvent {
  let json: string | undefined;
  return {
    ...fields,
    logPayload: { data, bytes },
    get json() {
      return (json ??= `${payloadFieldPrefix(data)}${JSON.stringify(bytes.toString('utf8'))}}`);
    },
  };
}

/**
 * The number of newlines in the bytes. Counted four bytes at a time (a log chunk is tens of KiB, and a
 * byte-by-byte loop was ~4% of the hub's log path): each aligned 32-bit word is XORed with four
 * newlines, so a newline becomes a zero byte, and the zero bytes are flagged and summed without a
 * branch. The flags are exact (no carry crosses a byte), whatever the bytes' values.
 */
export function countNewlines(bytes: Uint8Array): number {
  const start = bytes.byteOffset;
  const head = Math.min(bytes.length, (4 - (start & 3)) & 3);
  const words = (bytes.length - head) >>> 2;
  let n = 0;
  for (let i = 0; i < head; i++) if (bytes[i] === 0x0a) n++;
  if (words > 0) {
    const view = new Int32Array(bytes.buffer, start + head, words);
    for (let i = 0; i < words; i++) {
      const x = (view[i] ?? 0) ^ 0x0a0a0a0a;
      // Bit 7 of each byte set exactly where x has a zero byte.
      const zeros = ~(((x & 0x7f7f7f7f) + 0x7f7f7f7f) | x | 0x7f7f7f7f);
      n += Math.imul(zeros >>> 7, 0x01010101) >>> 24;
    }
  }
  for (let i = head + words * 4; i < bytes.length; i++) if (bytes[i] === 0x0a) n++;
  return n;
}
