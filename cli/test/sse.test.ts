import { describe, expect, it } from 'vitest';
import { SseParser } from '../sse.js';

describe('SseParser', () => {
  it('parses id, event, multi-line data and skips comments', () => {
    const p = new SseParser();
    const evs = p.feed(': keep-alive\nid: 7\nevent: event\ndata: line one\ndata:line two\n\n');
    expect(evs).toEqual([{ id: '7', hasOwnId: true, event: 'event', data: 'line one\nline two' }]);
    expect(p.lastEventId).toBe('7');
  });

  it('handles events and CRLF line endings split across chunks', () => {
    const p = new SseParser();
    const text = 'id: 1\r\nevent: a\r\ndata: x\r\n\r\nid: 2\r\ndata: y\r\n\r\n';
    const out = [];
    for (const ch of text) out.push(...p.feed(ch));
    expect(out).toEqual([
      { id: '1', hasOwnId: true, event: 'a', data: 'x' },
      { id: '2', hasOwnId: true, event: 'message', data: 'y' },
    ]);
  });

  it('does not commit the id of an event that was cut off', () => {
    const p = new SseParser('3');
    expect(p.feed('id: 4\nevent: event\ndata: {"par')).toEqual([]);
    expect(p.lastEventId).toBe('3');
  });

  it('keeps the last id for later events without one, and reads retry', () => {
    const p = new SseParser();
    expect(p.feed('retry: 1500\nid: 9\ndata: a\n\ndata: b\n\n')).toEqual([
      { id: '9', hasOwnId: true, event: 'message', data: 'a' },
      { id: '9', hasOwnId: false, event: 'message', data: 'b' },
    ]);
    expect(p.retryMs).toBe(1500);
  });

  it('dispatches a typed event without data (a bare `event: end`)', () => {
    expect(new SseParser().feed('event: end\n\n')).toEqual([
      { id: '', hasOwnId: false, event: 'end', data: '' },
    ]);
  });
});
