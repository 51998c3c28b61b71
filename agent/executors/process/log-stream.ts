// A step's output as the agent reads it: the supervisor's record file (log-records.ts), followed from
// offset 0 until the step ended. One record is one piece, so reading the file again after an agent
// restart yields the same pieces in the same order. The file is the buffer: the step writes to disk at
// its own pace, and a slow consumer (the hub, a full log window) only slows this reader, so the agent
// holds at most one read block per step however much the step prints.
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import type { LogData } from '../executor.js';
import { decodeRecordHeader, RECORD_HEADER_BYTES } from './log-records.js';

export interface FollowOptions {
  /** True once nothing will be appended any more: the reader then reads to the end and stops. */
  complete: () => boolean;
  /**
   * Called when the reader is at the end of the file, `offset` bytes into it: settles once the file may
   * have grown past `offset` or `complete()` may have turned true, so the reader looks again at once
   * rather than at its next poll. Without it the reader only polls.
   */
  changed?: (offset: number) => Promise<unknown>;
  /** Read size; default 256 KiB. */
  blockBytes?: number;
  /** Longest wait at the end of the file before looking again; default 100 ms. */
  maxPollMs?: number;
}

const DEFAULT_BLOCK_BYTES = 256 * 1024;
const DEFAULT_MAX_POLL_MS = 100;

/** Yields the records of `file` as LogData, following it until `opts.complete()` and its end. */
export async function* followRecordFile(file: string, opts: FollowOptions): AsyncGenerator<LogData> {
  const blockBytes = opts.blockBytes ?? DEFAULT_BLOCK_BYTES;
  const maxPollMs = opts.maxPollMs ?? DEFAULT_MAX_POLL_MS;
  let fh: FileHandle | undefined;
  let pos = 0;
  let pending = Buffer.alloc(0);
  // One read block, reused: records are copied out of it, and a partial record left in it is copied
  // before the next read. A fresh 256 KiB block per read kept the agent's garbage collector busy.
  let block = Buffer.alloc(0);
  let lastPass = false;
  let delay = 1;
  try {
    for (;;) {
      const header = decodeRecordHeader(pending);
      if (header && pending.length >= RECORD_HEADER_BYTES + header.length) {
        const end = RECORD_HEADER_BYTES + header.length;
        // A copy: a piece must not pin the whole read block while it waits for the hub's ack.
        const data = Buffer.from(pending.subarray(RECORD_HEADER_BYTES, end));
        pending = pending.subarray(end);
        yield { stream: header.stream, at: header.at, data };
        continue;
      }
      let bytesRead = 0;
      if (!fh) fh = await open(file, 'r').catch(() => undefined);
      if (fh) {
        const want = Math.max(blockBytes, header ? RECORD_HEADER_BYTES + header.length - pending.length : 0);
        if (pending.length > 0 && pending.buffer === block.buffer) pending = Buffer.from(pending);
        if (block.length < want) block = Buffer.allocUnsafeSlow(want);
        ({ bytesRead } = await fh.read(block, 0, want, pos));
        if (bytesRead > 0) {
          pos += bytesRead;
          const got = block.subarray(0, bytesRead);
          pending = pending.length > 0 ? Buffer.concat([pending, got]) : got;
          delay = 1;
          continue;
        }
      }
      // At the end of what is written. A trailing partial record after the end is a writer that died.
      if (lastPass) return;
      if (opts.complete()) {
        lastPass = true; // everything is written now: one more pass to the end
        continue;
      }
      // Told of changes, the reader polls only in case a word is lost; else it backs off from 1 ms.
      await pause(opts.changed ? maxPollMs : delay, opts.changed?.(pos));
      delay = Math.min(delay * 2, maxPollMs);
    }
  } finally {
    await fh?.close();
  }
}

/** Waits `ms`, or less if `early` settles first. */
async function pause(ms: number, early: Promise<unknown> | undefined): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const elapsed = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  try {
    await (early ? Promise.race([elapsed, early.then(noop, noop)]) : elapsed);
  } finally {
    clearTimeout(timer);
  }
}

function noop(): void {}
