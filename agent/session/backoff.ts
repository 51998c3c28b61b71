// Exponential backoff with full jitter: a fleet of agents that lost the hub at the same moment does not
// reconnect in lockstep.

export class Backoff {
  private attempt = 0;

  constructor(
    private readonly opts: { initialMs: number; maxMs: number },
    private readonly random: () => number = Math.random,
  ) {}

  next(): number {
    const ceiling = Math.min(this.opts.maxMs, this.opts.initialMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    return Math.round(this.random() * ceiling);
  }

  reset(): void {
    this.attempt = 0;
  }
}
