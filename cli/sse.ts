// A server-sent-events parser following the WHATWG "event stream interpretation" rules: lines end in
// CRLF, LF or CR (also when split across chunks); `:` starts a comment; `data:` lines accumulate with
// newlines; a blank line dispatches; `id:` persists as the last event id even for events without data.
// One deliberate deviation: an event with an `event:` type but no `data:` is dispatched (see dispatch).
// Pure: feed it text, get events back.

export interface SseEvent {
  /** The last event id in effect when this event was dispatched ('' when none was ever sent). */
  id: string;
  /** Whether this event carried its own `id:` field (rather than inheriting the last one). */
  hasOwnId: boolean;
  /** `message` when no `event:` field was given. */
  event: string;
  data: string;
}

export class SseParser {
  private buf = '';
  /** A chunk ended in CR: a following LF belongs to the same line ending. */
  private pendingCr = false;
  private data: string[] = [];
  private eventType = '';
  private sawData = false;
  private sawId = false;
  /** The `id:` field as last seen; it becomes lastEventId only when an event is dispatched. */
  private idBuffer: string;
  /**
   * The id of the last fully received event (the value to reconnect with as Last-Event-ID). An `id:`
   * line of an event cut off by a dropped connection does not count, so that event is not skipped.
   */
  lastEventId: string;
  /** The server's `retry:` advice in milliseconds, if it sent one. */
  retryMs: number | undefined;

  constructor(lastEventId = '') {
    this.lastEventId = lastEventId;
    this.idBuffer = lastEventId;
  }

  feed(text: string): SseEvent[] {
    if (this.pendingCr && text.startsWith('\n')) text = text.slice(1);
    this.pendingCr = false;
    this.buf += text;
    const out: SseEvent[] = [];
    let start = 0;
    for (let i = 0; i < this.buf.length; i++) {
      const c = this.buf[i];
      if (c !== '\n' && c !== '\r') continue;
      const line = this.buf.slice(start, i);
      if (c === '\r') {
        if (i + 1 === this.buf.length) this.pendingCr = true;
        else if (this.buf[i + 1] === '\n') i++;
      }
      start = i + 1;
      const ev = this.line(line);
      if (ev) out.push(ev);
    }
    this.buf = this.buf.slice(start);
    return out;
  }

  private line(line: string): SseEvent | undefined {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data.push(value);
        this.sawData = true;
        break;
      case 'event':
        this.eventType = value;
        break;
      case 'id':
        if (!value.includes('\0')) {
          this.idBuffer = value;
          this.sawId = true;
        }
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
        break;
    }
    return undefined;
  }

  private dispatch(): SseEvent | undefined {
    this.lastEventId = this.idBuffer;
    // The spec drops events without data; we keep typed ones, so a bare `event: end` still ends the stream.
    const ev: SseEvent | undefined =
      this.sawData || this.eventType !== ''
        ? {
            id: this.lastEventId,
            hasOwnId: this.sawId,
            event: this.eventType || 'message',
            data: this.data.join('\n'),
          }
        : undefined;
    this.data = [];
    this.eventType = '';
    this.sawData = false;
    this.sawId = false;
    return ev;
  }
}
