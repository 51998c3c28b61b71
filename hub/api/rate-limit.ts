// A fixed-window limit per client address for the endpoints that take passwords, so that guessing a
// password costs a caller minutes per handful of tries. In memory: a restart resets it, which is fine
// for a limit measured in minutes.

import { HttpError } from './errors.js';

export class RateLimit {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts one attempt from `key`; a 429 once it made `max` in the current window. */
  take(key: string): void {
    const now = this.now();
    let w = this.windows.get(key);
    if (!w || now - w.start >= this.windowMs) {
      // Old windows are dropped as they are met, so the map holds only recent callers.
      if (this.windows.size > 10_000) this.sweep(now);
      w = { start: now, count: 0 };
      this.windows.set(key, w);
    }
    if (++w.count > this.max) {
      const wait = Math.ceil((w.start + this.windowMs - now) / 1000);
      throw new HttpError(429, 'too_many_requests', `too many login attempts; try again in ${wait}s`);
    }
  }

  private sweep(now: number): void {
    for (const [key, w] of this.windows) if (now - w.start >= this.windowMs) this.windows.delete(key);
  }
}
