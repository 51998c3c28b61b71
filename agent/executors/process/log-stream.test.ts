import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MergedLogStream } from './log-stream.js';

/** Writes `chunks` chunks of `size` bytes, honouring backpressure like a child blocked on its pipe. */
async function produce(w: PassThrough, chunks: number, size: number, fill: number) {
  for (let i = 0; i < chunks; i++) {
    if (!w.write(Buffer.alloc(size, fill))) await once(w, 'drain');
  }
  w.end();
}

describe('MergedLogStream', () => {
  it('pauses its sources while the consumer lags and delivers everything in order', async () => {
    const out = new PassThrough({ highWaterMark: 16 * 1024 });
    const err = new PassThrough({ highWaterMark: 16 * 1024 });
    const logs = new MergedLogStream(
      [
        { stream: 'stdout', readable: out },
        { stream: 'stderr', readable: err },
      ],
      { highWaterMark: 64 * 1024 },
    );
    const producing = Promise.all([produce(out, 200, 8 * 1024, 1), produce(err, 200, 8 * 1024, 2)]);
    const got = { stdout: 0, stderr: 0 };
    for await (const c of logs) {
      expect(c.data.every((b) => b === (c.stream === 'stdout' ? 1 : 2))).toBe(true);
      got[c.stream] += c.data.length;
      await new Promise((r) => setImmediate(r));
    }
    await producing;
    await logs.drained;
    expect(got).toEqual({ stdout: 200 * 8 * 1024, stderr: 200 * 8 * 1024 });
    expect(logs.maxBufferedBytes).toBeGreaterThan(0);
    expect(logs.maxBufferedBytes).toBeLessThanOrEqual(64 * 1024 + 2 * 16 * 1024);
    expect(logs.bufferedBytes).toBe(0);
  });

  it('keeps draining after the consumer gives up, and can be iterated once only', async () => {
    const out = new PassThrough();
    const logs = new MergedLogStream([{ stream: 'stdout', readable: out }], { highWaterMark: 1024 });
    const producing = produce(out, 1000, 1024, 0);
    for await (const _c of logs) break;
    await producing;
    await logs.drained;
    expect(() => logs[Symbol.asyncIterator]()).toThrow(/only once/);
  });

  it('endWhenIdle closes a pipe that no writer will ever end', async () => {
    const out = new PassThrough();
    const logs = new MergedLogStream([{ stream: 'stdout', readable: out }]);
    out.write('last words\n');
    const chunks: string[] = [];
    const reading = (async () => {
      for await (const c of logs) chunks.push(c.data.toString());
    })();
    logs.endWhenIdle(50);
    await reading;
    await logs.drained;
    expect(chunks).toEqual(['last words\n']);
  });
});
