import { describe, expect, it } from 'vitest';
import { RateLimit } from './rate-limit.js';

describe('RateLimit', () => {
  it('refuses a key after max failures until its window has passed, and counts keys apart', () => {
    let now = 0;
    const limit = new RateLimit(2, 60_000, () => now);
    limit.check('a');
    limit.fail('a');
    limit.fail('a');
    expect(() => limit.check('a')).toThrow('too many failed logins; try again in 60s');
    limit.check('b');
    now = 60_000;
    expect(() => limit.check('a')).not.toThrow();
  });
});
