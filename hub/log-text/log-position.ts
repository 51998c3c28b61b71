// Where a step's log stands after some text: the line the next text goes on, whether that line has text
// already, and the colours in effect. The store advances it as each log event is appended and keeps it
// with the event (build_log_index), so a client can be shown any part of a long log with the right line
// numbers and colours without anything reading the text that comes before.

import { countNewlines } from './log-payload.js';
import { SgrState } from './sgr-state.js';

export interface LogPosition {
  /** Newlines so far: the line (from 0) the next text goes on. */
  line: number;
  /** That line already has text. */
  partial: boolean;
  /** The SGR sequence that recreates the colours in effect ('' for none). */
  sgr: string;
  /** The start of an escape sequence the text ended in, finished by the next text ('' for none). */
  unfinished: string;
}

/** Where every log starts. */
export const LOG_START: LogPosition = { line: 0, partial: false, sgr: '', unfinished: '' };

/** The fields of a log or error event's data that make up a step's log. */
export interface LogData {
  origin?: { id?: string };
  payload?: string;
  message?: string;
}

/**
 * The step and the text an event adds to its step's log, as the build page shows it: a `log` event's
 * payload, an `error` event's message on a line of its own; undefined for other events and for events of
 * no step (the hub's own notes).
 */
export function stepTextOf(
  type: string,
  data: unknown,
  payload?: Buffer,
): { step: string; text: string | Buffer } | undefined {
  if (type !== 'log' && type !== 'error') return undefined;
  const d = data as LogData | null | undefined;
  const step = d?.origin?.id;
  if (typeof step !== 'string') return undefined;
  // A log event stored with its payload apart (hub/log-text/log-payload.ts): the bytes are the text.
  if (type === 'log' && payload) return { step, text: payload };
  const text = type === 'log' ? d?.payload : `${d?.payload ?? d?.message ?? 'error'}\n`;
  return typeof text === 'string' ? { step, text } : undefined;
}

/** The position after `text` (a string, or UTF-8 bytes read without decoding them) is added at `at`. */
export function advance(at: LogPosition, text: string | Buffer): LogPosition {
  let newlines = 0;
  let endsWithNewline: boolean;
  let escape: boolean;
  if (typeof text === 'string') {
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) newlines++;
    endsWithNewline = text.endsWith('\n');
    escape = text.includes('\x1b');
  } else {
    newlines = countNewlines(text);
    endsWithNewline = text.at(-1) === 0x0a;
    escape = text.includes(0x1b);
  }
  let { sgr, unfinished } = at;
  if (unfinished !== '' || escape) {
    const state = SgrState.from(sgr, unfinished);
    state.feed(typeof text === 'string' ? text : text.toString('utf8'));
    sgr = state.sequence();
    unfinished = state.unfinished;
  }
  return {
    line: at.line + newlines,
    partial: newlines === 0 ? at.partial || text.length > 0 : !endsWithNewline,
    sgr,
    unfinished,
  };
}
