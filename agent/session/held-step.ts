// What the agent keeps for one leased step, independent of any connection: the log chunks the hub has
// not acknowledged yet (resent after a reconnect) and the result until the hub acknowledges it. A
// connection comes and goes; a HeldStep outlives it.
//
// Ordering rule: every log chunk goes out before the result, in sequence order, on whichever
// connection is current. Memory is bounded by the log window: the producer waits while the
// unacknowledged bytes exceed it.

import type { Finished, LogChunk } from '../../proto/gen/outpost/v1/agent.js';
import type { LogCheckpoint } from '../executors/executor.js';

export interface Outbox {
  sendAccepted(leaseId: string): void;
  sendStarted(leaseId: string, at: number): void;
  /** Returns false when the transport is backed up; `onDrain` fires when it is not. */
  sendLog(chunk: LogChunk): boolean;
  sendFinished(finished: Finished): void;
}

export class HeldStep {
  private nextSeq = 1;
  private acked = 0;
  /** Highest seq written to the current outbox. */
  private sent = 0;
  private readonly unacked: LogChunk[] = [];
  private unackedBytes = 0;
  private result: Finished | undefined;
  private resultAcked = false;
  private outbox: Outbox | undefined;
  private blocked = false;
  private readonly windowWaiters: (() => void)[] = [];
  private readonly ackWaiters: (() => void)[] = [];
  /** Checkpoints (LogData positions) whose chunks the hub has not acknowledged yet, oldest first. */
  private readonly checkpoints: LogCheckpoint[] = [];
  /** Called with the newest checkpoint the hub has stored, as acknowledgements reach it. */
  onStored: (checkpoint: LogCheckpoint) => void = () => undefined;
  /** A resumed step until the hub said (in its Welcome) how far it has stored the step's log. */
  private awaitingHub: boolean;
  private readonly hubWaiters: (() => void)[] = [];

  /** `resumed`: a reattached step whose log goes on after this checkpoint, which the hub had stored. */
  constructor(
    readonly leaseId: string,
    readonly pool: string,
    private windowBytes: number,
    resumed?: LogCheckpoint,
  ) {
    if (resumed) {
      this.nextSeq = resumed.seq + 1;
      this.acked = this.sent = resumed.seq;
    }
    this.awaitingHub = resumed !== undefined;
  }

  /** For Hello: what the hub last acknowledged, and the result if the step already ended. */
  get heldState(): { leaseId: string; ackedLogSeq: number; finished: Finished | undefined } {
    return { leaseId: this.leaseId, ackedLogSeq: this.acked, finished: this.result };
  }

  get done(): boolean {
    return this.resultAcked;
  }

  /**
   * A (new) connection is current; `hubAcked` is the hub's persisted high-water mark for this lease.
   * Returns how many chunks go out again because the hub had not stored them.
   */
  attach(outbox: Outbox, hubAcked: number, windowBytes: number): number {
    this.windowBytes = windowBytes;
    this.outbox = outbox;
    this.ack(hubAcked);
    this.awaitingHub = false;
    for (const wake of this.hubWaiters.splice(0)) wake();
    const resent = this.unacked.filter((c) => c.seq <= this.sent).length;
    this.sent = this.acked;
    this.blocked = false;
    this.flush();
    return resent;
  }

  detach(): void {
    this.outbox = undefined;
  }

  /** Queues one chunk; resolves once the window has room for more. */
  async push(stream: LogChunk['stream'], data: Buffer, at: number): Promise<void> {
    const chunk: LogChunk = { leaseId: this.leaseId, seq: this.nextSeq++, stream, data, atUnixMs: at };
    // A reattached step replays its log from the start: what the hub already stored is not resent.
    if (chunk.seq <= this.acked) return;
    this.unacked.push(chunk);
    this.unackedBytes += data.length;
    this.flush();
    while (this.unackedBytes > this.windowBytes) {
      await new Promise<void>((resolve) => this.windowWaiters.push(resolve));
    }
  }

  /**
   * Everything the step's log held up to `position` is in the chunks pushed so far, nothing of it held
   * back: once the hub acknowledges them, onStored() gets this checkpoint.
   */
  checkpoint(position: string): void {
    const checkpoint = { seq: this.nextSeq - 1, position };
    if (checkpoint.seq <= this.acked) this.onStored(checkpoint);
    else this.checkpoints.push(checkpoint);
  }

  /**
   * The log goes on after a gap, so the chunks to come do not line up with what the hub stored: once
   * the hub said how far it has the log, they are numbered after that (nothing stored is overwritten).
   */
  async gap(): Promise<void> {
    while (this.awaitingHub && !this.resultAcked)
      await new Promise<void>((resolve) => this.hubWaiters.push(resolve));
    this.nextSeq = Math.max(this.nextSeq, this.acked + 1);
  }

  /** The step ended: `finished` is sent after every chunk and resent until acknowledged. */
  finish(finished: Omit<Finished, 'leaseId' | 'lastLogSeq'>): void {
    this.result = { ...finished, leaseId: this.leaseId, lastLogSeq: this.nextSeq - 1 };
    this.flush();
  }

  ack(seq: number): void {
    if (seq <= this.acked) return;
    this.acked = seq;
    for (let head = this.unacked[0]; head && head.seq <= seq; head = this.unacked[0]) {
      this.unacked.shift();
      this.unackedBytes -= head.data.length;
    }
    if (this.unackedBytes <= this.windowBytes) for (const wake of this.windowWaiters.splice(0)) wake();
    let stored: LogCheckpoint | undefined;
    while (this.checkpoints[0] && this.checkpoints[0].seq <= seq) stored = this.checkpoints.shift();
    if (stored) this.onStored(stored);
  }

  resultAcknowledged(): void {
    this.resultAcked = true;
    for (const wake of this.ackWaiters.splice(0)) wake();
    for (const wake of this.hubWaiters.splice(0)) wake();
  }

  /** Resolves when the hub has acknowledged the result. */
  async acknowledged(): Promise<void> {
    if (!this.resultAcked) await new Promise<void>((resolve) => this.ackWaiters.push(resolve));
  }

  /** Sends what the current connection has not seen yet; called again when the transport drains. */
  flush(): void {
    const outbox = this.outbox;
    if (!outbox || this.blocked) return;
    for (const chunk of this.unacked) {
      if (chunk.seq <= this.sent) continue;
      this.sent = chunk.seq;
      if (!outbox.sendLog(chunk)) {
        this.blocked = true;
        return;
      }
    }
    if (this.result && !this.resultAcked && this.sent >= this.result.lastLogSeq)
      outbox.sendFinished(this.result);
  }

  /** The transport drained: continue where flush() stopped. */
  unblock(): void {
    this.blocked = false;
    this.flush();
  }

  /** Resends the result (called periodically until acknowledged). */
  resendResult(): void {
    if (this.result && !this.resultAcked && this.sent >= this.result.lastLogSeq)
      this.outbox?.sendFinished(this.result);
  }
}
