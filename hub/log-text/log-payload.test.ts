import { describe, expect, it } from 'vitest';
import {
  countNewlines,
  eventWithPayload,
  logPayloadBytes,
  payloadFieldPrefix,
  payloadLiteralBytes,
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
    expect(Buffer.from(payloadLiteralBytes(bytes), 'latin1').toString('utf8')).toBe(JSON.stringify(text));
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
});
