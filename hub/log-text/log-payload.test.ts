import { describe, expect, it } from 'vitest';
import {
  countNewlines,
  eventWithPayload,
  frameWithPayload,
  logPayloadBytes,
  payloadFieldPrefix,
} from './log-payload.js';

describe('log payload bytes', () => {
  it('keeps valid UTF-8 as it is and replaces invalid sequences as decoding the chunk shows them', () => {
    const valid = Buffer.from('ok ü 🚀\n');
    expect(logPayloadBytes(valid)).toBe(valid);
    // A lone continuation byte, and a character cut in half at the end of the chunk.
    const invalid = Buffer.concat([
      Buffer.from('a'),
      Buffer.from([0x80]),
      Buffer.from('b'),
      Buffer.from('🚀').subarray(0, 2),
    ]);
    expect(logPayloadBytes(invalid).toString()).toBe(invalid.toString('utf8'));
    expect(logPayloadBytes(invalid).toString()).toBe('a\uFFFDb\uFFFD');
  });

  it('escapes the bytes into the JSON string JSON.stringify makes of the text', () => {
    // Every ASCII character, and multi-byte characters either side of the escapes.
    const text = `${Array.from({ length: 128 }, (_, i) => String.fromCharCode(i)).join('')}é€🚀\u2028`;
    const bytes = Buffer.from(text);
    const frame = frameWithPayload(Buffer.from('[é'), bytes, Buffer.from(']'));
    expect(frame.toString('utf8')).toBe(`[é${JSON.stringify(text)}]`);
    expect(frameWithPayload(Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(0)).toString()).toBe('""');
  });

  it('escapes exactly as JSON.stringify at every alignment and length, whatever the bytes', () => {
    // Bytes either side of each escaped class (0x1f/0x20, quote 0x22, backslash 0x5c), controls, 0x7f,
    // and bytes from 0x80 up (whose bit 7 the word test must not take for an escape), mixed at random.
    const alphabet = [
      0x00, 0x0a, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x5b, 0x5c, 0x5d, 0x7f, 0x80, 0xa2, 0xdc, 0xff, 0x61,
    ];
    const all = Buffer.alloc(4099);
    let seed = 11;
    for (let i = 0; i < all.length; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      // Runs of plain letters between the mixed bytes, so clean and dirty words both occur.
      all[i] = seed % 3 === 0 ? (alphabet[(seed >> 4) % alphabet.length] ?? 0) : 0x61;
    }
    const none = Buffer.alloc(0);
    for (let offset = 0; offset < 8; offset++)
      for (const length of [0, 1, 2, 3, 4, 5, 7, 8, 9, 31, 64, 1000, all.length - offset]) {
        const slice = all.subarray(offset, offset + length);
        expect(
          frameWithPayload(none, slice, none).toString('latin1'),
          `offset ${offset}, length ${length}`,
        ).toBe(JSON.stringify(slice.toString('latin1')));
      }
  });

  it('adds the payload as the last field of the data, also of empty data', () => {
    expect(`${payloadFieldPrefix('{"origin":{"id":"s"},"time":1}')}"x"}`).toBe(
      '{"origin":{"id":"s"},"time":1,"payload":"x"}',
    );
    expect(`${payloadFieldPrefix('{}')}"x"}`).toBe('{"payload":"x"}');
  });

  it("gives an event's whole data JSON to readers that ask for it", () => {
    const event = eventWithPayload(
      { buildId: 1, seq: 2, type: 'log', version: '5.1', at: 3 },
      '{"origin":{"id":"s"}}',
      Buffer.from('a "b"\n'),
    );
    expect(JSON.parse(event.json)).toEqual({ origin: { id: 's' }, payload: 'a "b"\n' });
    expect(event.logPayload?.bytes.toString()).toBe('a "b"\n');
  });

  it('counts newlines', () => {
    expect(countNewlines(Buffer.from(''))).toBe(0);
    expect(countNewlines(Buffer.from('a\nb\n\nc'))).toBe(3);
  });

  it('counts newlines exactly at every alignment and length, whatever the other bytes', () => {
    // Bytes one bit away from a newline (0x0b, 0x08, 0x8a, 0x2a), zero, 0xff and newlines, mixed.
    const alphabet = [0x0a, 0x0b, 0x08, 0x8a, 0x2a, 0x00, 0xff, 0x0a, 0x7f, 0x80];
    const all = Buffer.alloc(4099);
    let seed = 7;
    for (let i = 0; i < all.length; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      all[i] = alphabet[seed % alphabet.length] ?? 0;
    }
    const naive = (b: Uint8Array) => b.reduce((n, byte) => n + (byte === 0x0a ? 1 : 0), 0);
    for (let offset = 0; offset < 8; offset++)
      for (const length of [0, 1, 2, 3, 4, 5, 7, 8, 9, 31, 64, 1000, all.length - offset]) {
        const slice = all.subarray(offset, offset + length);
        expect(countNewlines(slice), `offset ${offset}, length ${length}`).toBe(naive(slice));
      }
    expect(countNewlines(Buffer.alloc(4096, 0x0a))).toBe(4096);
  });
});
