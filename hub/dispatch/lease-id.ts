// A lease's id: a UUID version 7 (RFC 9562), its first 48 bits the time it was made, then a counter
// that keeps ids of one millisecond in order, and 62 random bits (uuid's v7). Leases are stored under a
// unique index on the id (step_runs_lease_id_unique): with random (version 4) ids every new lease went
// to a random leaf page of that index, one more page written per build in each commit; in time order
// they fill its last page. An id names a lease; it grants nothing (every message naming it must come
// from the agent that holds it), so the bits given to the time cost nothing but its guessability.

import { v7 } from 'uuid';

export function newLeaseId(): string {
  return v7();
}
