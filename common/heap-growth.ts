// How far V8 lets a small heap grow before its next full GC. A process that moves bytes (the hub taking
// logs in over gRPC and out over SSE) allocates little on the JavaScript heap but many Buffers, and the
// ones alive at a scavenge (a batch waiting for its commit, SSE frames in a socket's backlog) are
// promoted. V8 then sizes the old generation from the small live heap (25 MB) with a growing factor
// near its minimum, so it marked and compacted the whole heap every 4-6 MB of log, ~20 times per 100 MB,
// its helper threads about a third of the hub's CPU (docs/performance.md, session 10). A factor of 2
// (V8's own factor ranges from 1.1 to 4) cuts that to ~10. Large heaps (10,000 agents) keep V8's own
// factor: doubling them would hold hundreds of MB of garbage.

import { constants, PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';

/** A heap this large or larger (used, after a full GC) grows by V8's own factor. */
const SMALL_HEAP_BYTES = 128 * 1024 * 1024;
/** The old generation's limit after a full GC, for a small heap: twice what survived it. */
const SMALL_HEAP_GROWING_PERCENT = 100;

/**
 * Sets the growing factor for the heap's size now, and again after each full GC (V8 reads the flag
 * whenever it recomputes its limits, at the end of each full GC). Returns a function that stops
 * following the heap (the factor stays as last set).
 */
export function growSmallHeapsFaster(): () => void {
  let percent = -1;
  const apply = () => {
    const next = v8.getHeapStatistics().used_heap_size < SMALL_HEAP_BYTES ? SMALL_HEAP_GROWING_PERCENT : 0;
    if (next === percent) return;
    // 0 is V8's default: its own dynamic factor.
    v8.setFlagsFromString(`--heap-growing-percent=${next}`);
    percent = next;
  };
  apply();
  const observer = new PerformanceObserver((list) => {
    const major = list
      .getEntries()
      .some(
        (e) => (e as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR,
      );
    if (major) apply();
  });
  observer.observe({ entryTypes: ['gc'] });
  return () => observer.disconnect();
}
