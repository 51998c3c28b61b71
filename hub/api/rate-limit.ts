// A fixed-window limit on failed attempts per key (a client address, a user name) for the endpoints that
// take passwords, so that guessing a password costs a caller minutes per handful of tries. In memory: a restart resets it, which is fine
// for a limit measured in minutes.

import { HttpError } from './errors.js';

export class RateLimit {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** A 429 once `key` failed `max` times in the current window; `whose` is said after "failed logins". */
  check(key: string, whose = ''): void {
    const now = this.now();
    const w = this.windows.get(key);
    if (w && now - w.start < this.windowMs && w.count >= this.max) {
      const wait = Math.ceil((w.start + this.windowMs - now) / 1000);
      throw new HttpError(429, 'too_many_requests', `too many failed logins${whose}; try again in ${wait}s`);
    }
  }

  /** Counts one failure of `key`. */
  fail(key: string): void {
    const now = this.now();
    let w = this.windows.get(key);
    if (!w || now - w.start >= this.windowMs) {
      // Old windows are dropped when the map grows, so it holds only recent callers.
      if (this.windows.size > 10_000) this.sweep(now);
      w = { start: now, count: 0 };
      this.windows.set(key, w);
    }
    w.count++;
  }

  /** Takes back one failure of `key` counted in advance (an attempt that turned out right). */
  forgive(key: string): void {
    const w = this.windows.get(key);
    if (w && w.count > 0) w.count--;
  }

  private sweep(now: number): void {
    for (const [key, w] of this.windows) if (now - w.start >= this.windowMs) this.windows.delete(key);
  }
}
