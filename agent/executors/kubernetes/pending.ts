// How long a step's pod has been pending, phase by phase: waiting for a node (scheduling), for images
// and containers (image-pull), for its inputs (input-transfer). The pool's pending timeout counts the
// first two only: a large input on a slow link is a transfer in progress, not a stuck pod.
export type PendingPhase = 'scheduling' | 'image-pull' | 'input-transfer';

export class PendingClock {
  private phase: PendingPhase = 'scheduling';
  private reason = 'waiting for the API server';
  private since: number;
  private readonly spent: Record<PendingPhase, number> = {
    scheduling: 0,
    'image-pull': 0,
    'input-transfer': 0,
  };

  constructor(createdAt: number) {
    this.since = createdAt;
  }

  get current(): { phase: PendingPhase; reason: string } {
    return { phase: this.phase, reason: this.reason };
  }

  /** Enters `phase` for `reason`; true when either changed (worth telling). */
  update(phase: PendingPhase, reason: string): boolean {
    const changed = phase !== this.phase || reason !== this.reason;
    if (phase !== this.phase) {
      const now = Date.now();
      this.spent[this.phase] += Math.max(0, now - this.since);
      this.since = now;
      this.phase = phase;
    }
    this.reason = reason;
    return changed;
  }

  /** A transfer that happened before this clock existed (a reattached pod's inputs). */
  creditTransfer(ms: number): void {
    this.spent['input-transfer'] += ms;
    this.since += ms;
  }

  /** Milliseconds counted against the pending timeout: scheduling and image pulls, so far. */
  counted(): number {
    const live = this.phase === 'input-transfer' ? 0 : Math.max(0, Date.now() - this.since);
    return this.spent.scheduling + this.spent['image-pull'] + live;
  }

  /** Milliseconds spent in each phase, the current one up to now. */
  durations(): Record<PendingPhase, number> {
    return { ...this.spent, [this.phase]: this.spent[this.phase] + Math.max(0, Date.now() - this.since) };
  }
}
