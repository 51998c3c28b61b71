import { describe, expect, it } from 'vitest';

import { chunks } from './chunks.js';

describe('chunks', () => {
  it('splits a list into slices of the size, the last one shorter', () => {
    const items = Array.from({ length: 1_001 }, (_, i) => i);
    const slices = [...chunks(items, 500)];
    expect(slices.map((s) => s.length)).toEqual([500, 500, 1]);
    expect(slices.flat()).toEqual(items);
  });

  it('yields one slice for a list no longer than the size, and none for an empty list', () => {
    expect([...chunks(['a', 'b'], 500)]).toEqual([['a', 'b']]);
    expect([...chunks([], 500)]).toEqual([]);
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses a chunk size of %s', (size) => {
    expect(() => [...chunks([1], size)]).toThrow(/chunk size must be a positive integer/);
  });
});
