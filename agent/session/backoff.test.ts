import { expect, it } from 'vitest';
import { Backoff } from './backoff.js';

it('doubles the ceiling up to the maximum, jitters below it, and starts over after reset', () => {
  const ceilings = (b: Backoff, n: number) => Array.from({ length: n }, () => b.next());
  expect(ceilings(new Backoff({ initialMs: 100, maxMs: 1000 }, () => 1), 6)).toEqual([
    100, 200, 400, 800, 1000, 1000,
  ]);
  const half = new Backoff({ initialMs: 100, maxMs: 1000 }, () => 0.5);
  expect(ceilings(half, 3)).toEqual([50, 100, 200]);
  half.reset();
  expect(half.next()).toBe(50);
});

it('with a floor, always waits that share of the ceiling', () => {
  const low = new Backoff({ initialMs: 60_000, maxMs: 300_000, floor: 0.5 }, () => 0);
  expect([low.next(), low.next(), low.next(), low.next()]).toEqual([30_000, 60_000, 120_000, 150_000]);
  const high = new Backoff({ initialMs: 60_000, maxMs: 300_000, floor: 0.5 }, () => 1);
  expect([high.next(), high.next(), high.next(), high.next()]).toEqual([60_000, 120_000, 240_000, 300_000]);
});
