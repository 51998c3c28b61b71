// One watch per pool over the agent's own pods (by label), fanned out to each step by pod name: the
// executor learns of every status change within the API server's latency without polling, and the
// cluster sees one watch per pool instead of one per step. list -> watch from its resourceVersion;
// a closed watch resumes from the last seen version; 410 Gone re-lists (pods missing from the new list
// are reported deleted). Runs only while someone subscribes.
// client-node's models are classes, but its API takes plain JSON objects (it serializes them).
/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment */
import { Watch, type V1Pod } from '@kubernetes/client-node';
import type { KubeApi } from './client.js';
import { backoffMs, type RetryPolicy } from './retry.js';

export type PodEvent = { type: 'update'; pod: V1Pod } | { type: 'deleted'; pod: V1Pod };
type Listener = (event: PodEvent) => void;

// A watch the server closed resumes at once; failures back off (jittered, up to 30 s) until one works.
const FAILURE_BACKOFF: RetryPolicy = { attempts: Infinity, baseMs: 500, maxMs: 30_000 };

export class PodWatcher {
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly known = new Set<string>();
  private resourceVersion: string | undefined;
  private controller: AbortController | undefined;
  private running = false;
  private generation = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;

  constructor(
    private readonly api: KubeApi,
    private readonly selector: string,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Calls `listener` with every change of pod `name` until the returned function is called. */
  subscribe(name: string, listener: Listener): () => void {
    const set = this.listeners.get(name) ?? new Set<Listener>();
    set.add(listener);
    this.listeners.set(name, set);
    if (!this.running) {
      this.running = true;
      const gen = ++this.generation;
      void this.relist(gen);
    }
    return () => {
      const current = this.listeners.get(name);
      current?.delete(listener);
      if (current?.size === 0) this.listeners.delete(name);
      if (this.listeners.size === 0) this.stop();
    };
  }

  private stop(): void {
    this.running = false;
    this.generation++;
    clearTimeout(this.retryTimer);
    this.controller?.abort();
    this.controller = undefined;
  }

  private emit(name: string | undefined, event: PodEvent): void {
    if (name === undefined) return;
    for (const listener of this.listeners.get(name) ?? []) listener(event);
  }

  private retry(gen: number, relist: boolean, failed: boolean): void {
    if (gen !== this.generation) return;
    clearTimeout(this.retryTimer);
    this.failures = failed ? this.failures + 1 : 0;
    const delay = failed ? backoffMs(this.failures, FAILURE_BACKOFF) : 0;
    this.retryTimer = setTimeout(() => void (relist ? this.relist(gen) : this.watch(gen)), delay);
  }

  private async relist(gen: number): Promise<void> {
    let listed;
    try {
      listed = await this.api.listPods(this.selector);
    } catch (err) {
      this.onError(err);
      this.retry(gen, true, true);
      return;
    }
    if (gen !== this.generation) return;
    this.failures = 0;
    const present = new Set<string>();
    for (const pod of listed.pods) {
      const name = pod.metadata?.name;
      if (name === undefined) continue;
      present.add(name);
      this.emit(name, { type: 'update', pod });
    }
    // Deleted while we were not watching.
    for (const name of this.known) {
      if (!present.has(name)) this.emit(name, { type: 'deleted', pod: { metadata: { name } } });
    }
    this.known.clear();
    for (const name of present) this.known.add(name);
    this.resourceVersion = listed.resourceVersion;
    await this.watch(gen);
  }

  private async watch(gen: number): Promise<void> {
    if (gen !== this.generation) return;
    let gone = false;
    const watch = new Watch(this.api.kc);
    try {
      this.controller = await watch.watch(
        `/api/v1/namespaces/${this.api.namespace}/pods`,
        { labelSelector: this.selector, resourceVersion: this.resourceVersion, allowWatchBookmarks: true },
        (type: string, obj: unknown) => {
          if (gen !== this.generation) return;
          if (type === 'ERROR') {
            // 410 Expired: our resourceVersion is too old; start over from a list.
            gone = true;
            this.controller?.abort();
            return;
          }
          const pod = obj as V1Pod;
          const rv = pod.metadata?.resourceVersion;
          if (rv) this.resourceVersion = rv;
          if (type === 'BOOKMARK') return;
          const name = pod.metadata?.name;
          if (name === undefined) return;
          if (type === 'DELETED') {
            this.known.delete(name);
            this.emit(name, { type: 'deleted', pod });
          } else {
            this.known.add(name);
            this.emit(name, { type: 'update', pod });
          }
        },
        (err: unknown) => {
          if (gen !== this.generation) return;
          const failed = Boolean(err) && !(err instanceof Error && err.name === 'AbortError');
          if (failed) this.onError(err);
          this.retry(gen, gone || Boolean(err), failed);
        },
      );
    } catch (err) {
      this.onError(err);
      this.retry(gen, true, true);
    }
  }
}
