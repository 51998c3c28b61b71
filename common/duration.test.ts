import { describe, expect, it } from 'vitest';

import { parseDuration } from './duration.js';

describe('parseDuration', () => {
  it.each([
    ['10s', 10_000],
    ['500ms', 500],
    ['1h30m', 5_400_000],
    ['1.5m', 90_000],
    ['2h45m30.5s', 9_930_500],
    ['1500us', 1.5],
    ['1500µs', 1.5],
    ['0', 0],
    ['-1m', -60_000],
  ])('parses %s as Go does', (text, ms) => {
    expect(parseDuration(text)).toEqual({ ok: true, ms });
  });

  it.each([
    ['', 'invalid duration "": empty'],
    [
      '10',
      'invalid duration "10": missing unit after "10" (valid units are "ns", "us", "ms", "s", "m", "h"; e.g. "10s")',
    ],
    ['5x', 'invalid duration "5x": unknown unit "x" (valid units are "ns", "us", "ms", "s", "m", "h")'],
    ['5 minutes', 'invalid duration "5 minutes": spaces are not allowed (write "1h30m", not "1h 30m")'],
    ['h', 'invalid duration "h": expected a number at "h"'],
    [
      '1h30',
      'invalid duration "1h30": missing unit after "30" (valid units are "ns", "us", "ms", "s", "m", "h"; e.g. "30s")',
    ],
  ])('rejects %j with a clear error', (text, error) => {
    expect(parseDuration(text)).toEqual({ ok: false, error });
  });
});
