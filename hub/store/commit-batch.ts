// Group commit on the hub's one SQLite connection. A write transaction normally ends in its own COMMIT
// (0.07 ms at the median, and the WAL pages it dirtied). A write the hub marks as deferred
// (`deferCommit`) ends in a RELEASE instead: its rows stay in an open SQLite transaction, the "batch",
// which later writes join (each in a SAVEPOINT of it, so a failed one undoes only its own rows) and
// which commits once, at the end of the event-loop turn, or earlier when a write does not defer: a write
// outside a transaction, or a transaction that is not deferred (its caller resolves only after its
// commit, as without batching). A read does not commit the batch: it runs inside it and sees its rows,
// so the reads between a turn's writes (a trigger's token, job and pipeline, while other triggers'
// builds wait in the batch) no longer cost a commit each. What a read returns may therefore not be
// durable yet: nothing may leave the hub before the commit of what it was built from, so the hub's
// outward paths wait while writes are uncommitted (`pending`, then `durable()`): every HTTP answer, each
// SSE page read back, each message to an agent. A writer that defers follows the same rule for what
// depends on its write (an Assign, a FinishedAck, a build's end notice). A hub that dies before the
// batch commits loses its writes as it would have lost the messages not yet read from its sockets;
// nobody outside has seen them.
//
// Kysely's SQLite driver runs `begin`, `commit` and `rollback` as statements; the statement cache
// (statement-cache.ts) hands those to this batch instead of to SQLite.

import type BetterSqlite3 from 'better-sqlite3';

/** The statement Kysely runs for a transaction's begin, commit or rollback, as the batch does it. */
export type ControlStatement = 'begin' | 'commit' | 'rollback';

export class CommitBatch {
  /** SQLite's transaction is open (BEGIN ran, COMMIT not yet). */
  private open = false;
  /** A Kysely transaction is in progress: inside a SAVEPOINT of the batch, or the batch's first. */
  private inTransaction = false;
  /** The transaction in progress opened the batch (its rollback can roll the whole batch back). */
  private opened = false;
  /** The transaction in progress asked not to commit (deferCommit). */
  private deferNext = false;
  /** Someone waits for the batch to commit: a commit is scheduled, or due when the transaction ends. */
  private due = false;
  private waiters: { resolve: () => void; reject: (err: unknown) => void }[] = [];
  private readonly statements = new Map<string, BetterSqlite3.Statement>();
  private readonly committed: (() => void)[] = [];
  /** whenDurable's callbacks, run once right after the next COMMIT. */
  private afterNext: (() => void)[] = [];

  constructor(private readonly db: BetterSqlite3.Database) {}

  /** Calls `listener` after each COMMIT (the checkpoint worker counts them: sqlite-checkpointer.ts). */
  afterCommit(listener: () => void): void {
    this.committed.push(listener);
  }

  /** Kysely's `begin`, `commit` or `rollback` (the caller holds the connection). */
  control(statement: ControlStatement): void {
    if (statement === 'begin') {
      this.inTransaction = true;
      this.opened = !this.open;
      // IMMEDIATE: the write lock is taken at the begin, waiting (busy timeout) while the checkpoint worker's
      // RESTART holds it; a deferred transaction that read first would get SQLITE_BUSY at its first write
      // without waiting. The hub's connection is the database's only writer, so this costs nothing.
      this.run(this.opened ? 'begin immediate' : 'savepoint outpost_batch');
      this.open = true;
      return;
    }
    const deferred = this.deferNext;
    this.deferNext = false;
    this.inTransaction = false;
    if (statement === 'rollback') {
      // After a failed COMMIT (below) there is nothing left to roll back.
      if (!this.open) return;
      if (this.opened) {
        this.run('rollback');
        this.open = false;
        this.settle(undefined);
        return;
      }
      this.run('rollback to outpost_batch');
      this.run('release outpost_batch');
    } else if (!this.opened) this.run('release outpost_batch');
    if (!deferred) this.commit();
    else this.schedule();
  }

  /** Called inside a transaction (holding the connection): it ends without a COMMIT of its own. */
  deferCommit(): void {
    if (this.inTransaction) this.deferNext = true;
  }

  /**
   * A statement is about to run. Outside a transaction, a write's own autocommit would take the batch
   * along unannounced, so the batch commits first; a read runs inside the batch (see above).
   */
  beforeStatement(readonly: boolean): void {
    if (this.open && !this.inTransaction && !readonly) this.commit();
  }

  /** Writes made so far wait for their commit: `durable()` would not resolve at once. */
  pending(): boolean {
    return this.open;
  }

  /**
   * Runs `then` once every write made so far is committed: at once when nothing waits to be, else right
   * after the COMMIT, before the promises of `durable()` settle (which run only after whatever else that
   * turn queued), so a message to an agent leaves as soon as it may. `then` must not use the database:
   * it runs inside whatever statement committed the batch. It is dropped if the COMMIT fails.
   */
  whenDurable(then: () => void): void {
    if (!this.open) return then();
    this.schedule();
    this.afterNext.push(then);
  }

  /** Resolves once every write made so far is committed (at once when nothing waits to be). */
  durable(): Promise<void> {
    if (!this.open) return Promise.resolve();
    this.schedule();
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** Commits what is open (the connection is closing). */
  flush(): void {
    if (!this.inTransaction) this.commit();
  }

  private schedule(): void {
    if (this.due) return;
    this.due = true;
    setImmediate(() => {
      this.due = false;
      // A transaction still in progress (it awaited I/O): its end commits, or the next turn does.
      if (this.inTransaction) this.schedule();
      else this.commit();
    });
  }

  private commit(): void {
    this.due = false;
    if (!this.open) return;
    try {
      this.run('commit');
    } catch (err) {
      // What the batch held is lost, as in a crash; its writers have moved on, so the hub must not.
      if (this.db.inTransaction) this.run('rollback');
      this.open = false;
      this.afterNext = [];
      this.settle(err);
      throw err;
    }
    this.open = false;
    for (const listener of this.committed) listener();
    const afterNext = this.afterNext;
    this.afterNext = [];
    for (const then of afterNext) {
      try {
        then();
      } catch (err) {
        // Not the committing statement's failure: surfaced as a promise callback's would be.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
    this.settle(undefined);
  }

  private settle(err: unknown): void {
    const waiters = this.waiters;
    if (waiters.length === 0) return;
    this.waiters = [];
    for (const w of waiters)
      if (err === undefined) w.resolve();
      else w.reject(err);
  }

  private run(sql: string): void {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    statement.run();
  }
}
