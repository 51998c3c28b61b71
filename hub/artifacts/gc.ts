// Garbage collection: builds that their job's retention lets go are deleted (with their events, step
// runs and artifact references), then every stored artifact no remaining build references goes too, and
// audit log entries older than the audit log's retention.
// A fresh artifact is spared for a while: its step may still be uploading its other outputs, and the
// reference is only recorded when the step's result arrives.

import type { Logger } from 'pino';
import type { Store } from '../store/store.js';
import type { ArtifactStore } from './store.js';

export interface GcResult {
  builds: number;
  artifacts: number;
  auditEntries: number;
}

export async function collectGarbage(
  store: Store,
  artifacts: ArtifactStore,
  opts: { now: number; minArtifactAgeMs: number; auditLogRetentionMs: number },
): Promise<GcResult> {
  const builds = await store.reapBuilds(opts.now);
  const referenced = await store.referencedDigests();
  let removed = 0;
  for (const { digest, storedAt } of await artifacts.list()) {
    if (referenced.has(digest) || opts.now - storedAt < opts.minArtifactAgeMs) continue;
    await artifacts.delete(digest);
    removed++;
  }
  const auditEntries = await store.auditLog.prune(opts.now - opts.auditLogRetentionMs);
  return { builds, artifacts: removed, auditEntries };
}

/** Runs collectGarbage every `intervalMs` until the returned stop() is called. */
export function startGarbageCollector(
  store: Store,
  artifacts: ArtifactStore,
  opts: { intervalMs: number; minArtifactAgeMs: number; auditLogRetentionMs: number },
  log: Logger,
): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    collectGarbage(store, artifacts, { ...opts, now: Date.now() })
      .then((r) => {
        if (r.builds > 0 || r.artifacts > 0 || r.auditEntries > 0) log.info(r, 'garbage collected');
      })
      .catch((err: unknown) => log.error({ err }, 'garbage collection failed'))
      .finally(() => (running = false));
  }, opts.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
