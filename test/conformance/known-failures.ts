// Runnable testflight fixtures that currently fail, with why (fixture file name -> reason). run.test.ts
// reports them as `fail (known: reason)` without failing vitest; once one passes, vitest fails until it is
// removed from this list, so the list cannot go stale.

export const KNOWN_FAILURES: Readonly<Record<string, string>> = {};
