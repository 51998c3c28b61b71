// Checkpoints the hub's SQLite WAL on a worker thread, so that copying the WAL's pages into the database
// file (and the two fsyncs around it) no longer stalls the event loop: with `wal_autocheckpoint` the
// commit that crossed the threshold did all of it, ~40 MB of pages, on the main thread.
//
// The worker has a connection of its own to the same file. The main connection counts its commits in
// shared memory and wakes the worker (a futex wake at most once per pause); the worker reads how much of
// the WAL is not yet in the database from the WAL index (the `-shm` file, format in
// https://www.sqlite.org/walformat.html) and runs a PASSIVE checkpoint past `CHECKPOINT_BYTES`, which
// never blocks the main connection. Under a sustained write load a passive checkpoint may never catch up
// with the writer, and SQLite starts the WAL over only when it has: past `RESTART_BYTES` the worker runs a
// RESTART checkpoint right after the passive one, during which the main connection's writes wait (its
// busy timeout) for the short tail the passive one left.

import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';
import type { SqliteDatabase } from 'kysely';
import type { CommitBatch } from './commit-batch.js';

type BatchedDatabase = SqliteDatabase & { batch: CommitBatch };

/** WAL bytes not yet checkpointed that start a checkpoint (the WAL is fsynced then: docs/operations.md). */
export const CHECKPOINT_BYTES = 16 * 1024 * 1024;
/** A WAL this long is checkpointed and started over, writers waiting for the tail. */
const RESTART_BYTES = 64 * 1024 * 1024;
/** The worker looks at the WAL at most once per pause. */
const PAUSE_MS = 20;
/** How long the worker's RESTART waits for the main connection's readers, and the main one's writes for it. */
const WORKER_BUSY_MS = 200;
export const MAIN_BUSY_MS = 10_000;
/** How long closing waits for a checkpoint in progress. */
const CLOSE_WAIT_MS = 30_000;

// Slots of the shared Int32Array.
const COMMITS = 0;
const STOP = 1;
const CLOSED = 2;

const WORKER_SOURCE = `
'use strict';
const { workerData } = require('node:worker_threads');
const signal = new Int32Array(workerData.signal);
const [COMMITS, STOP, CLOSED] = [${COMMITS}, ${STOP}, ${CLOSED}];
let db, shm;
try {
  const fs = require('node:fs');
  const Database = require(workerData.driver);
  db = new Database(workerData.file, { fileMustExist: true });
  db.pragma('busy_timeout = ${WORKER_BUSY_MS}');
  db.pragma('journal_mode'); // reads the database: its WAL index is open
  shm = fs.openSync(workerData.file + '-shm', 'r');
  const index = Buffer.alloc(100);
  // The WAL index header (native byte order): page size at 14 (1 meaning 65536), frames in the WAL at 16;
  // frames already copied into the database (nBackfill) at 96.
  const walBytes = () => {
    if (fs.readSync(shm, index, 0, 100, 0) < 100) return { total: 0, pending: 0 };
    const page = index.readUInt16LE(14) === 1 ? 65536 : index.readUInt16LE(14);
    const frames = index.readUInt32LE(16);
    const frameBytes = page + 24;
    return { total: frames * frameBytes, pending: (frames - Math.min(frames, index.readUInt32LE(96))) * frameBytes };
  };
  let seen = Atomics.load(signal, COMMITS);
  while (Atomics.load(signal, STOP) === 0) {
    Atomics.wait(signal, COMMITS, seen);
    seen = Atomics.load(signal, COMMITS);
    if (Atomics.load(signal, STOP) !== 0) break;
    const wal = walBytes();
    if (wal.pending >= ${CHECKPOINT_BYTES}) {
      db.pragma('wal_checkpoint(PASSIVE)');
      if (wal.total >= ${RESTART_BYTES}) db.pragma('wal_checkpoint(RESTART)');
    }
    Atomics.wait(signal, STOP, 0, ${PAUSE_MS});
  }
} finally {
  if (shm !== undefined) require('node:fs').closeSync(shm);
  if (db !== undefined) db.close();
  Atomics.store(signal, CLOSED, 1);
  Atomics.notify(signal, CLOSED);
}
`;

/**
 * Turns the main connection's own checkpoints off and starts the worker that does them; returns
 * `database` with its commit batch telling the worker of each COMMIT, and a `close` that stops the worker
 * before closing `database`.
 * `sqlite` must be in WAL mode on `file` (its `-shm` exists). If the worker fails, the main connection
 * checkpoints itself again.
 */
export function checkpointOnWorker(
  sqlite: BetterSqlite3.Database,
  file: string,
  database: BatchedDatabase,
  onClose: () => void,
): BatchedDatabase {
  const signal = new Int32Array(new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT));
  sqlite.pragma('wal_autocheckpoint = 0');
  sqlite.pragma(`busy_timeout = ${MAIN_BUSY_MS}`);
  // After a RESTART the next writer starts the WAL over; its file is cut back to this length then.
  sqlite.pragma(`journal_size_limit = ${RESTART_BYTES}`);
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
      signal: signal.buffer,
      file,
      driver: createRequire(import.meta.url).resolve('better-sqlite3'),
    },
  });
  worker.unref();
  const selfCheckpoint = () => {
    if (sqlite.open) sqlite.pragma('wal_autocheckpoint = 10000');
  };
  worker.on('error', (err) => {
    process.emitWarning(
      `SQLite's checkpoint worker failed (${err.message}): the hub checkpoints on its event loop again`,
    );
    selfCheckpoint();
  });
  worker.on('exit', (code) => {
    if (Atomics.load(signal, STOP) === 0 && code !== 0) selfCheckpoint();
  });

  database.batch.afterCommit(() => {
    Atomics.add(signal, COMMITS, 1);
    Atomics.notify(signal, COMMITS, 1);
  });
  return {
    batch: database.batch,
    prepare: (sql) => database.prepare(sql),
    close() {
      Atomics.store(signal, STOP, 1);
      Atomics.notify(signal, COMMITS);
      Atomics.notify(signal, STOP);
      // A checkpoint in progress finishes first; the main connection, closing last, then checkpoints what
      // is left and removes the WAL, as SQLite's last connection does.
      Atomics.wait(signal, CLOSED, 0, CLOSE_WAIT_MS);
      database.close();
      onClose();
    },
  };
}
