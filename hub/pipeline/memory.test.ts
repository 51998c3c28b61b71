import { describe, expect, it } from 'vitest';

import { parseMemory } from './memory.js';

describe('parseMemory', () => {
  it.each([
    [1024, 1024],
    ['1024', 1024],
    ['1GB', 1024 ** 3],
    ['1g', 1024 ** 3],
    ['512MB', 512 * 1024 ** 2],
    ['64kb', 64 * 1024],
  ])('reads %j as %d bytes', (value, bytes) => {
    expect(parseMemory(value)).toEqual({ ok: true, bytes });
  });

  it.each(['1.5GB', '1TB', 'lots', ''])('rejects %j', (value) => {
    expect(parseMemory(value)).toMatchObject({ ok: false });
  });

  it('rejects negative and fractional byte counts', () => {
    expect(parseMemory(-1)).toEqual({
      ok: false,
      error: 'invalid memory limit -1: must be a whole number of bytes',
    });
    expect(parseMemory(1.5)).toMatchObject({ ok: false });
  });
});
