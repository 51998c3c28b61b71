// Messages that leave the hub in order, each only once the store has committed every write made before
// it was handed over. The hub's reads see writes still waiting in SQLite's commit batch
// (commit-batch.ts, Store.uncommitted), so a message built from a read may name a lease, a result or a
// build a crash would take back; held until the commit, it never does. Held messages are written right
// after the COMMIT (Store.whenDurable), ahead of what awaits `durable()`: an Assign does not wait for the
// rest of the turn's callbacks. While nothing is uncommitted a message is written at once.

import type { Store } from './store.js';

export class AfterCommit<T> {
  private held: T[] | undefined;
  private then: (() => void) | undefined;

  constructor(
    private readonly store: Pick<Store, 'uncommitted' | 'whenDurable'>,
    private readonly write: (message: T) => void,
  ) {}

  send(message: T): void {
    if (this.held) {
      this.held.push(message);
      return;
    }
    if (!this.store.uncommitted()) {
      this.write(message);
      return;
    }
    const held = (this.held = [message]);
    // Right after the COMMIT (a failed one drops this, and the hub stops: commit-batch.ts).
    this.store.whenDurable(() => this.release(held));
  }

  /** Runs `then` once every message handed over so far is written (at once when none is held). */
  whenSent(then: () => void): void {
    if (this.held) this.then = then;
    else then();
  }

  private release(messages: T[]): void {
    this.held = undefined;
    const then = this.then;
    this.then = undefined;
    for (const message of messages) this.write(message);
    then?.();
  }
}
