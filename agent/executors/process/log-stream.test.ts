import { appendFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { LogData } from '../executor.js';
import { encodeRecordHeader, type RecordStream } from './log-records.js';
import { followRecordFile } from './log-stream.js';

let dir: string;
let file: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-log-stream-'));
  file = path.join(dir, 'log');
});
afterEach(() => rm(dir, { recursive: true, force: true }));

function record(stream: RecordStream, text: string, at = 1): Buffer {
  const data = Buffer.from(text);
  return Buffer.concat([encodeRecordHeader(stream, at, data.length), data]);
}

async function collect(it: AsyncIterable<LogData>): Promise<[string, string, number][]> {
  const out: [string, string, number][] = [];
  for await (const piece of it) out.push([piece.stream, piece.data.toString(), piece.at]);
  return out;
}

describe('followRecordFile', () => {
  it('yields one piece per record, in order, and the same pieces on a second read', async () => {
    writeFileSync(
      file,
      Buffer.concat([record('stdout', 'a\n', 5), record('stderr', 'b\n', 6), record('stdout', '', 7)]),
    );
    const first = await collect(followRecordFile(file, { complete: () => true }));
    expect(first).toEqual([
      ['stdout', 'a\n', 5],
      ['stderr', 'b\n', 6],
      ['stdout', '', 7],
    ]);
    expect(await collect(followRecordFile(file, { complete: () => true }))).toEqual(first);
  });

  it('follows a file that grows (records split across reads) until it is complete', async () => {
    let complete = false;
    const reading = collect(followRecordFile(file, { complete: () => complete, blockBytes: 7 }));
    const bytes = Buffer.concat(Array.from({ length: 50 }, (_, i) => record('stdout', `line ${i}\n`)));
    for (let off = 0; off < bytes.length; off += 11) {
      appendFileSync(file, bytes.subarray(off, off + 11));
      if (off % 110 === 0) await new Promise((r) => setTimeout(r, 2));
    }
    complete = true;
    const got = await reading;
    expect(got.map((g) => g[1])).toEqual(Array.from({ length: 50 }, (_, i) => `line ${i}\n`));
  });

  it('ends on a missing file once complete, and ignores a torn last record', async () => {
    expect(await collect(followRecordFile(file, { complete: () => true }))).toEqual([]);
    writeFileSync(file, Buffer.concat([record('stdout', 'whole'), record('stdout', 'torn').subarray(0, 15)]));
    expect(await collect(followRecordFile(file, { complete: () => true }))).toEqual([['stdout', 'whole', 1]]);
  });

  it('stops as soon as the step ends, without waiting for its next look at the file', async () => {
    writeFileSync(file, record('stdout', 'last words\n'));
    // The reader's polls never come due: only the end of the step can wake it.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      let complete = false;
      let ended!: () => void;
      const completed = new Promise<void>((resolve) => (ended = resolve));
      const it = followRecordFile(file, { complete: () => complete, changed: () => completed })[
        Symbol.asyncIterator
      ]();
      const first = await it.next();
      expect(first.done ? '' : first.value.data.toString()).toBe('last words\n');
      const rest = it.next();
      // Until the reader is at the end of the file, waiting for its next look.
      for (let turns = 0; vi.getTimerCount() === 0; turns++) {
        if (turns > 100_000) throw new Error('the reader never waited at the end of the file');
        await new Promise((resolve) => setImmediate(resolve));
      }
      complete = true;
      ended();
      expect(await rest).toEqual({ done: true, value: undefined });
    } finally {
      vi.useRealTimers();
    }
  });

  it('looks again as soon as told the file grew past where it stopped, not at its next poll', async () => {
    writeFileSync(file, record('stdout', 'first\n'));
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const asked: number[] = [];
      let grew!: () => void;
      const changed = (offset: number) => {
        asked.push(offset);
        return new Promise<void>((resolve) => (grew = resolve));
      };
      let complete = false;
      const it = followRecordFile(file, { complete: () => complete, changed })[Symbol.asyncIterator]();
      const first = await it.next();
      expect(first.done ? '' : first.value.data.toString()).toBe('first\n');
      const next = it.next();
      for (let turns = 0; asked.length === 0; turns++) {
        if (turns > 100_000) throw new Error('the reader never waited at the end of the file');
        await new Promise((resolve) => setImmediate(resolve));
      }
      // The reader says how far it read: the whole first record.
      expect(asked).toEqual([record('stdout', 'first\n').length]);
      appendFileSync(file, record('stdout', 'second\n'));
      grew();
      const second = await next;
      expect(second.done ? '' : second.value.data.toString()).toBe('second\n');
      complete = true;
      expect(await it.next()).toEqual({ done: true, value: undefined });
    } finally {
      vi.useRealTimers();
    }
  });

  it('reads only as fast as its consumer (the file is the buffer)', async () => {
    writeFileSync(
      file,
      Buffer.concat(Array.from({ length: 1000 }, () => record('stdout', 'x'.repeat(1000)))),
    );
    const it = followRecordFile(file, { complete: () => true, blockBytes: 4096 })[Symbol.asyncIterator]();
    const first = await it.next();
    expect(first.done ? 0 : first.value.data.length).toBe(1000);
    await it.return(undefined);
  });
});
