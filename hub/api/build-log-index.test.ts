// The hub's index of where each step's log lines are: for every event, the line it starts on, whether that
// line was begun before, and the colours set above it, equal to what reading the whole log from the start
// gives, for payloads that escape newlines, backslashes and quotes in JSON, colour codes cut across
// chunks, error messages, and two steps interleaved.

import { describe, expect, it } from 'vitest';
import type { BuildEvent } from '../store/store.js';
import { BuildLogIndex, type EventReader } from './build-log-index.js';
import { SgrState } from './sgr-state.js';

const ESC = '\x1b';
const chunks: [step: string, text: string][] = [
  ['a', 'one\ntwo'],
  ['a', ' still two\\n is not a newline\\\nthree\n'],
  ['b', `"quoted" ${ESC}[1;31mred`],
  ['a', ''],
  ['b', ` and bold\nred line 2 ${ESC}[3`],
  ['b', `2mgreen ${ESC}[22m\n`],
  ['a', 'ünïcödé\\\\\n\n'],
  ['b', `${ESC}[0mplain\n`],
  ['b', 'no newline at the end'],
];

function events(): BuildEvent[] {
  const out: BuildEvent[] = [
    { buildId: 1, seq: 1, type: 'status', version: '1.0', json: '{"status":"started"}' } as BuildEvent,
  ];
  for (const [step, payload] of chunks)
    out.push({
      buildId: 1,
      seq: out.length + 1,
      type: 'log',
      version: '5.1',
      json: JSON.stringify({ origin: { id: step, source: 'stdout' }, payload, time: 1 }),
    } as BuildEvent);
  out.push({
    buildId: 1,
    seq: out.length + 1,
    type: 'error',
    version: '4.0',
    json: JSON.stringify({ origin: { id: 'a' }, message: 'boom', time: 2 }),
  } as BuildEvent);
  return out;
}

const reader = (all: BuildEvent[]): EventReader => ({
  listBuildEvents: (_build, after, limit) =>
    Promise.resolve(all.filter((e) => e.seq > after).slice(0, limit)),
});

describe('build log index', () => {
  it('knows where every step stands before each event, as reading from the start does', async () => {
    const all = events();
    const index = new BuildLogIndex(reader(all), 1);
    await index.update();
    const text = new Map<string, string>();
    const sgr = new Map<string, SgrState>();
    for (const e of all) {
      const starts = index.startsAt(e.seq, e.seq);
      for (const [step, before] of text) {
        const lines = before.split('\n');
        expect(starts[step], `step ${step} before event ${e.seq}`).toEqual({
          line: lines.length - 1,
          partial: lines.at(-1) !== '',
          sgr: sgr.get(step)?.sequence(),
        });
      }
      const data = JSON.parse(e.json) as { origin?: { id: string }; payload?: string; message?: string };
      if (!data.origin) continue;
      const added = e.type === 'error' ? `${data.message}\n` : (data.payload ?? '');
      text.set(data.origin.id, (text.get(data.origin.id) ?? '') + added);
      if (!sgr.has(data.origin.id)) sgr.set(data.origin.id, new SgrState());
      sgr.get(data.origin.id)?.feed(added);
    }
    expect(index.startsAt(3, 3).b).toBeUndefined();
    expect(index.startsAt(5, 5).b?.sgr).toBe(`${ESC}[1;31m`);
    // ESC[3 at the end of one chunk, 2m at the start of the next: green, once both are read.
    expect(index.startsAt(7, 7).b?.sgr).toBe(`${ESC}[1;31m`);
    expect(index.startsAt(8, 8).b?.sgr).toBe(`${ESC}[32m`);
    expect(index.startsAt(10, 10).b?.sgr).toBe('');
  });

  it('finds the event in which a line begins', async () => {
    const index = new BuildLogIndex(reader(events()), 1);
    await index.update();
    // a: "one\ntwo still two\\n is not a newline\\\nthree\nünïcödé\\\\\n\nboom\n"
    expect(index.eventOfLine('a', 0)).toBe(2);
    expect(index.eventOfLine('a', 1)).toBe(2);
    expect(index.eventOfLine('a', 2)).toBe(3);
    expect(index.eventOfLine('a', 4)).toBe(8);
    expect(index.eventOfLine('a', 5)).toBe(11);
    expect(index.eventOfLine('a', 6)).toBeUndefined();
    expect(index.eventOfLine('b', 3)).toBe(10);
    expect(index.eventOfLine('b', 4)).toBeUndefined();
    expect(index.eventOfLine('c', 0)).toBeUndefined();
  });

  it('extends itself with the events stored since', async () => {
    const all = events();
    const stored = all.slice(0, 3);
    const index = new BuildLogIndex(reader(stored), 1);
    await index.update();
    expect(index.startsAt(99, 99)).toEqual({ a: { line: 3, partial: false, sgr: '' } });
    stored.push(...all.slice(3));
    await index.update();
    const whole = new BuildLogIndex(reader(all), 1);
    await whole.update();
    expect(index.startsAt(99, 99)).toEqual(whole.startsAt(99, 99));
    expect(index.startsAt(6, 99)).toEqual(whole.startsAt(6, 99));
  });
});
