// An agent session's stream, read apart from its handling. Every message is taken off the stream as it
// arrives, so the agent's heartbeats are heard while the hub handles a slow message of the same agent (a
// result waiting on a busy store, a log chunk held back by the session's log budget); the others wait
// here, in order, for the session to handle them one at a time. At most `capacity` wait: then reading
// pauses, and HTTP/2 flow control slows that agent alone. The pause is the hub's doing, not the agent's
// silence: `paused` says so to the heartbeat check. A deadline that judges the agent (the accept window)
// waits for `caughtUp()`: what the agent sent before it passed counts, however long the hub took to read it.

export class Inbox<T> {
  private readonly queue: T[] = [];
  private done = false;
  private error: Error | undefined;
  /** The handler waiting for a message. */
  private wakeHandler: (() => void) | undefined;
  /** The reader waiting for room (or for close). */
  private wakeReader: (() => void) | undefined;
  private closed = false;
  /** Messages queued for the handler so far; of these, taken by it, and handled (it asked for the next). */
  private queued = 0;
  private taken = 0;
  private handled = 0;
  /** caughtUp() calls waiting for the handler to have handled `through` messages. */
  private catchUps: { through: number; resolve: () => void }[] = [];
  /** True while reading waits for the handler to make room. */
  paused = false;

  /**
   * Starts reading `source` at once. `heard` sees every message as it is read and says whether it is
   * queued for the handler (false: it was all handled on arrival, as a heartbeat is).
   */
  constructor(
    source: AsyncIterator<T>,
    private readonly capacity: number,
    heard: (message: T) => boolean,
  ) {
    void this.read(source, heard);
  }

  /** The next message in arrival order; undefined once the stream ended. Rejects with the stream's error. */
  async next(): Promise<T | undefined> {
    // One handler, one message at a time: asking for the next says the one taken before is handled.
    this.handled = this.taken;
    this.settleCatchUps();
    for (;;) {
      const message = this.queue.shift();
      if (message !== undefined) {
        this.taken++;
        this.wakeReader?.();
        return message;
      }
      if (this.done) {
        if (this.error !== undefined) throw this.error;
        return undefined;
      }
      await new Promise<void>((resolve) => (this.wakeHandler = resolve));
      this.wakeHandler = undefined;
    }
  }

  /**
   * Resolves once the handler has handled every message the agent sent before the call: those read
   * already, and those waiting in the socket. The reads due run first (a hub that stalled runs its due
   * timers before it reads what arrived meanwhile); while reading is paused, the socket holds more, so
   * it waits again once reading resumes. Resolves at once when the session ends.
   */
  async caughtUp(): Promise<void> {
    do {
      await new Promise<void>((resolve) => setImmediate(resolve));
      const through = this.queued;
      if (this.handled < through && !this.closed)
        await new Promise<void>((resolve) => this.catchUps.push({ through, resolve }));
    } while (this.paused && !this.closed);
  }

  /** Stops reading (the session ended); what was queued is dropped. */
  close(): void {
    this.closed = true;
    this.queue.length = 0;
    this.wakeReader?.();
    this.settleCatchUps();
  }

  private settleCatchUps(): void {
    if (this.catchUps.length === 0) return;
    const waiting = this.catchUps;
    this.catchUps = [];
    for (const c of waiting) {
      if (this.closed || this.handled >= c.through) c.resolve();
      else this.catchUps.push(c);
    }
  }

  private async read(source: AsyncIterator<T>, heard: (message: T) => boolean): Promise<void> {
    try {
      while (!this.closed) {
        if (this.queue.length >= this.capacity) {
          this.paused = true;
          await new Promise<void>((resolve) => (this.wakeReader = resolve));
          this.wakeReader = undefined;
          this.paused = false;
          continue;
        }
        const next = await source.next();
        if (next.done) break;
        if (heard(next.value)) {
          this.queued++;
          this.queue.push(next.value);
          this.wakeHandler?.();
        }
      }
    } catch (err) {
      // Kept as it came (grpc-js's status objects carry the code the session reads).
      this.error = (err ?? new Error('the stream failed')) as Error;
    }
    this.done = true;
    this.wakeHandler?.();
  }
}
