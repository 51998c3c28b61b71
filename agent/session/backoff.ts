// Exponential backoff with jitter: a fleet of agents that lost the hub at the same moment does not
// reconnect in lockstep.

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /**
   * The share of each ceiling that is always waited (0 by default: full jitter). A backoff that must stay
   * long, like after a rejected token, sets e.g. 0.5 so no draw comes out near zero.
   */
  floor?: number;
}

export class Backoff {
  private attempt = 0;

  constructor(
    private readonly opts: BackoffOptions,
    private readonly random: () => number = Math.random,
  ) {}

  next(): number {
    const ceiling = Math.min(this.opts.maxMs, this.opts.initialMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    const floor = this.opts.floor ?? 0;
    return Math.round(ceiling * (floor + (1 - floor) * this.random()));
  }

  reset(): void {
    this.attempt = 0;
  }
}
