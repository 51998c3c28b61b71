// A lease's id: a UUID version 7 (RFC 9562), its first 48 bits the time it was made, then a counter
// that keeps ids of one millisecond in order, and 62 random bits (uuid's v7). Leases are stored under a
// unique index on the id (step_runs_lease_id_unique): with random (version 4) ids every new lease went
// to a random leaf page of that index, one more page written per build in each commit; in time order
// they fill its last page. An id names a lease; it grants nothing (every message naming it must come
// from the agent that holds it), so the bits given to the time cost nothing but its guessability.

import { randomFillSync } from 'node:crypto';
import { v7 } from 'uuid';

/**
 * Random bytes for 256 ids, drawn at once: uuid's own source asks the system for each id's 16 bytes
 * through webcrypto's getRandomValues, 7.5 us per id against 0.7 here (docs/performance.md, session 14).
 */
const pool = Buffer.allocUnsafeSlow(16 * 256);
let drawn = pool.length;
/** The millisecond of the last id and its counter, as uuid keeps them when it draws its own bytes. */
let msecs = -Infinity;
let seq = 0;

export function newLeaseId(): string {
  if (drawn === pool.length) {
    randomFillSync(pool);
    drawn = 0;
  }
  const random = pool.subarray(drawn, (drawn += 16));
  const now = Date.now();
  if (now > msecs) {
    // A new millisecond: the counter starts at a random 31-bit value (RFC 9562 §6.2, method 1).
    msecs = now;
    seq = random.readUInt32BE(6) & 0x7fffffff;
  } else {
    // The same (or a clock that stepped back): count on; a counter that wraps borrows the next ms.
    seq = (seq + 1) | 0;
    if (seq === 0) msecs++;
  }
  return v7({ random, msecs, seq });
}
