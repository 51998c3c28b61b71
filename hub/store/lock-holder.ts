// Who holds a data directory. The lock itself is SQLite's exclusive lock on outpost.lock (an fcntl lock the
// kernel drops when the process dies, however it dies); this file only records the holder so that a
// refused hub can name it. A record left by a crashed hub is therefore harmless: the next hub takes the
// lock and overwrites it.

import { readFile, rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';

export const LOCK_HOLDER_FILE = 'lock-holder.json';

export interface LockHolder {
  pid: number;
  host: string;
  /** When the holder took the lock, ISO 8601. */
  since: string;
}

/** A second hub (or `rotate-admin-token` beside a running hub) asked for a data directory in use. */
export class DataDirInUseError extends Error {
  readonly code = 'DATA_DIR_IN_USE';

  constructor(
    readonly dataDir: string,
    readonly holder: LockHolder | undefined,
    options?: { cause?: unknown },
  ) {
    const who = holder
      ? `by the hub with pid ${holder.pid} on host ${holder.host}, since ${holder.since}`
      : `by another process (it recorded no holder in ${LOCK_HOLDER_FILE})`;
    super(
      `data directory ${dataDir} is locked ${who}; exactly one hub may open a data directory: stop that one first`,
      options,
    );
    this.name = 'DataDirInUseError';
  }
}

/** Records this process as the holder; called only once the lock is held. */
export async function recordLockHolder(dataDir: string, now: Date = new Date()): Promise<void> {
  const holder: LockHolder = { pid: process.pid, host: os.hostname(), since: now.toISOString() };
  const file = join(dataDir, LOCK_HOLDER_FILE);
  // Written aside and renamed, so that a refused hub never reads half a record.
  await writeFile(`${file}.tmp`, JSON.stringify(holder) + '\n');
  await rename(`${file}.tmp`, file);
}

export async function readLockHolder(dataDir: string): Promise<LockHolder | undefined> {
  try {
    const parsed = JSON.parse(await readFile(join(dataDir, LOCK_HOLDER_FILE), 'utf8')) as Partial<LockHolder>;
    if (typeof parsed.pid === 'number' && typeof parsed.host === 'string' && typeof parsed.since === 'string')
      return { pid: parsed.pid, host: parsed.host, since: parsed.since };
  } catch {
    // No record, or not ours: the message says so.
  }
  return undefined;
}
