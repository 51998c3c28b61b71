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

/**
 * The payload as a JSON string literal whose characters are its UTF-8 bytes (a one-byte string: write it
 * with the 'latin1' encoding). JSON escapes only ASCII characters (controls, quote, backslash), and
 * valid UTF-8 holds no lone surrogate, so escaping the bytes one by one is escaping the text; this way
 * the payload is never decoded, and V8's native JSON.stringify does the escaping.
 */
export function payloadLiteralBytes(payload: Buffer): string {
  return JSON.stringify(payload.toString('latin1'));
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

/** The number of newlines in the bytes. */
export function countNewlines(bytes: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0x0a) n++;
  return n;
}
