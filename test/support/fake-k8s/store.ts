// Objects, one etcd-like resourceVersion counter shared by all resources, and watch fan-out.
//
// resourceVersion semantics mirror the API server's watch cache closely enough for client-node's Watch
// and informers: a list returns the current revision; a watch from revision N replays every change with
// revision > N (from a retained history), a watch without a revision (or "0") first sends synthetic
// ADDED events for the current state, and a revision older than the compacted history gets an ERROR
// event carrying a 410 Expired Status. Objects moving into/out of a watch's selector are sent as
// ADDED/DELETED, as the real watch cache does.
import { randomUUID } from 'node:crypto';
import { alreadyExists, notFound } from './errors.js';
import type { Matcher } from './selectors.js';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  generateName?: string;
  finalizers?: string[];
  ownerReferences?: unknown[];
}

export interface KObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

export type Resource = 'pods' | 'secrets' | 'events' | 'namespaces' | 'nodes';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'ERROR' | 'BOOKMARK';
export interface WatchEvent {
  type: WatchEventType;
  object: unknown;
}

interface Change {
  rv: number;
  resource: Resource;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: KObject;
  previous?: KObject;
}

interface Watcher {
  resource: Resource;
  namespace: string | undefined;
  matches: Matcher;
  send: (event: WatchEvent) => void;
}

const KINDS: Record<Resource, string> = {
  pods: 'Pod',
  secrets: 'Secret',
  events: 'Event',
  namespaces: 'Namespace',
  nodes: 'Node',
};

export const kindOf = (resource: Resource): string => KINDS[resource];

const key = (namespace: string | undefined, name: string): string => `${namespace ?? ''}/${name}`;

const clone = <T>(v: T): T => structuredClone(v);

export class Store {
  private revision = 1;
  private readonly objects = new Map<Resource, Map<string, KObject>>();
  private history: Change[] = [];
  /** Oldest revision a watch may resume from; older ones get 410 Expired. */
  private compactedAt = 0;
  private readonly watchers = new Set<Watcher>();
  private readonly listeners = new Set<(change: Change) => void>();

  get currentRevision(): string {
    return String(this.revision);
  }

  private table(resource: Resource): Map<string, KObject> {
    let t = this.objects.get(resource);
    if (!t) {
      t = new Map();
      this.objects.set(resource, t);
    }
    return t;
  }

  /** In-process subscription (scheduler, kubelet), called synchronously after each change. */
  onChange(listener: (change: Change) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get(resource: Resource, namespace: string | undefined, name: string): KObject | undefined {
    const o = this.table(resource).get(key(namespace, name));
    return o ? clone(o) : undefined;
  }

  mustGet(resource: Resource, namespace: string | undefined, name: string): KObject {
    const o = this.get(resource, namespace, name);
    if (!o) throw notFound(resource, name);
    return o;
  }

  list(resource: Resource, namespace?: string, matches: Matcher = () => true): KObject[] {
    const out: KObject[] = [];
    for (const o of this.table(resource).values()) {
      if (namespace !== undefined && o.metadata.namespace !== namespace) continue;
      if (matches(o)) out.push(clone(o));
    }
    return out.sort((a, b) =>
      key(a.metadata.namespace, a.metadata.name).localeCompare(key(b.metadata.namespace, b.metadata.name)),
    );
  }

  create(resource: Resource, obj: KObject): KObject {
    const t = this.table(resource);
    const k = key(obj.metadata.namespace, obj.metadata.name);
    if (t.has(k)) throw alreadyExists(resource, obj.metadata.name);
    const stored = clone(obj);
    stored.apiVersion = 'v1';
    stored.kind = KINDS[resource];
    stored.metadata.uid = randomUUID();
    stored.metadata.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    stored.metadata.resourceVersion = String(++this.revision);
    t.set(k, stored);
    this.record({ rv: this.revision, resource, type: 'ADDED', object: clone(stored) });
    return clone(stored);
  }

  /**
   * Applies `mutate` to a copy of the stored object; a change bumps the revision and emits MODIFIED.
   * A mutation that changes nothing is not written (no spurious watch events).
   */
  update(
    resource: Resource,
    namespace: string | undefined,
    name: string,
    mutate: (o: KObject) => void,
  ): KObject {
    const t = this.table(resource);
    const k = key(namespace, name);
    const current = t.get(k);
    if (!current) throw notFound(resource, name);
    const next = clone(current);
    mutate(next);
    next.metadata.resourceVersion = current.metadata.resourceVersion;
    if (JSON.stringify(next) === JSON.stringify(current)) return clone(current);
    next.metadata.resourceVersion = String(++this.revision);
    t.set(k, next);
    this.record({
      rv: this.revision,
      resource,
      type: 'MODIFIED',
      object: clone(next),
      previous: clone(current),
    });
    return clone(next);
  }

  /** Removes the object; the DELETED event carries the deletion's revision. */
  remove(resource: Resource, namespace: string | undefined, name: string): KObject {
    const t = this.table(resource);
    const k = key(namespace, name);
    const current = t.get(k);
    if (!current) throw notFound(resource, name);
    t.delete(k);
    const gone = clone(current);
    gone.metadata.resourceVersion = String(++this.revision);
    this.record({ rv: this.revision, resource, type: 'DELETED', object: gone, previous: clone(current) });
    this.collectDependents(gone);
    return clone(gone);
  }

  /**
   * The garbage collector: objects in the owner's namespace whose ownerReferences name its uid go with
   * it (background propagation, as the agent deletes pods; real GC may lag, the fake's does not).
   */
  private collectDependents(owner: KObject): void {
    const uid = owner.metadata.uid;
    if (uid === undefined) return;
    for (const resource of ['pods', 'secrets', 'events'] as const) {
      for (const o of this.list(resource, owner.metadata.namespace)) {
        const refs = (o.metadata.ownerReferences ?? []) as { uid?: string }[];
        if (refs.some((r) => r.uid === uid)) this.remove(resource, o.metadata.namespace, o.metadata.name);
      }
    }
  }

  private record(change: Change): void {
    this.history.push(change);
    for (const w of this.watchers) this.deliver(w, change);
    for (const l of this.listeners) l(change);
  }

  private deliver(w: Watcher, c: Change): void {
    if (c.resource !== w.resource) return;
    if (w.namespace !== undefined && c.object.metadata.namespace !== w.namespace) return;
    const now = w.matches(c.object);
    const before = c.previous ? w.matches(c.previous) : false;
    let type: WatchEventType;
    if (c.type === 'ADDED') {
      if (!now) return;
      type = 'ADDED';
    } else if (c.type === 'DELETED') {
      if (!before) return;
      type = 'DELETED';
    } else if (now && before) type = 'MODIFIED';
    else if (now) type = 'ADDED';
    else if (before) {
      // Left the selector: the watch cache reports the new state as a deletion.
      type = 'DELETED';
    } else return;
    w.send({ type, object: clone(c.object) });
  }

  /**
   * Starts a watch. Returns a function that stops it. `resourceVersion` undefined/""/"0" means
   * "current state as ADDED events, then changes"; a number means "changes after it".
   */
  watch(
    resource: Resource,
    namespace: string | undefined,
    resourceVersion: string | undefined,
    matches: Matcher,
    send: (event: WatchEvent) => void,
  ): () => void {
    const w: Watcher = { resource, namespace, matches, send };
    if (!resourceVersion || resourceVersion === '0') {
      for (const o of this.list(resource, namespace, matches)) send({ type: 'ADDED', object: o });
    } else {
      const from = Number(resourceVersion);
      if (!Number.isInteger(from) || from < 0) {
        send({ type: 'ERROR', object: expired(`invalid resource version: ${resourceVersion}`) });
        return () => undefined;
      }
      if (from < this.compactedAt) {
        send({
          type: 'ERROR',
          object: expired(`too old resource version: ${from} (${this.compactedAt})`),
        });
        return () => undefined;
      }
      for (const c of this.history) if (c.rv > from) this.deliver(w, c);
    }
    this.watchers.add(w);
    return () => this.watchers.delete(w);
  }

  /** Forgets the change history, like etcd compaction: watches from older revisions get 410. */
  compact(): void {
    this.compactedAt = this.revision;
    this.history = [];
  }
}

function expired(message: string): Record<string, unknown> {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason: 'Expired',
    code: 410,
  };
}
