import { describe, expect, it } from 'vitest';
import { LINE_BYTES, LineChecker, makeChunks } from './log-lines.js';

/** A payload as the hub's SSE frame holds it: the text escaped for a JSON string, without the quotes. */
const escaped = (text: string): Buffer => Buffer.from(JSON.stringify(text).slice(1, -1));

describe('the logs bench line check', () => {
  it('accepts every line of the chunks it sends, once and in order, and sees the last one', () => {
    const { chunks, lines } = makeChunks(10 * LINE_BYTES + 5, 3 * LINE_BYTES + 2);
    expect(lines).toBe(10);
    expect(chunks.map((c) => c.length)).toEqual([39, 39, 39, 13]);
    let last = false;
    const checker = new LineChecker(lines, () => (last = true));
    for (const chunk of chunks) checker.escapedPayload(escaped(chunk.toString('utf8')));
    expect({ received: checker.received, wrong: checker.wrong, last }).toEqual({
      received: 10,
      wrong: 0,
      last: true,
    });
  });

  it('follows a line split across two events', () => {
    const checker = new LineChecker(3);
    checker.escapedPayload(escaped('line 0000001\nline 00'));
    checker.escapedPayload(escaped('00002\nline 0000003\n'));
    expect([checker.received, checker.wrong]).toEqual([3, 0]);
  });

  it('counts a repeated, a skipped and a garbled line as wrong', () => {
    const repeated = new LineChecker(3);
    repeated.escapedPayload(escaped('line 0000001\nline 0000001\nline 0000002\n'));
    expect([repeated.received, repeated.wrong]).toEqual([3, 1]);

    const skipped = new LineChecker(3);
    skipped.escapedPayload(escaped('line 0000001\nline 0000003\n'));
    expect([skipped.received, skipped.wrong]).toEqual([2, 1]);

    for (const garbled of ['line 000000x\n', 'lime 0000002\n', 'line 00000002\n', 'line 0000002\t\n']) {
      const checker = new LineChecker(3);
      checker.escapedPayload(escaped(`line 0000001\n${garbled}line 0000002\n`));
      expect([checker.received, checker.wrong], garbled).toEqual([3, 1]);
    }
  });

  it('does not take an escaped backslash followed by n for a newline', () => {
    // `\\n` in the frame is a backslash and a letter n in the text: one line, not two.
    const checker = new LineChecker(2);
    checker.escapedPayload(escaped('line 0000001\nline 000\\n002\nline 0000002\n'));
    expect([checker.received, checker.wrong]).toEqual([3, 1]);
  });

  it('does not count the frame unescaped: a raw newline is not the escape the hub must send', () => {
    const checker = new LineChecker(2);
    checker.escapedPayload(Buffer.from('line 0000001\nline 0000002\n'));
    expect(checker.received).toBe(0);
  });
});
