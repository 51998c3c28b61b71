// core/v1 Events as the scheduler and kubelet record them, including the count/lastTimestamp
// aggregation of repeated identical events (the real recorder's correlator does the same).
import { randomBytes } from 'node:crypto';
import type { KObject, Store } from './store.js';

export interface EventSource {
  component: 'default-scheduler' | 'kubelet';
  host?: string;
}

export const nowSeconds = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
export const nowMicros = (): string => new Date().toISOString().replace(/Z$/, '000Z');

export class EventRecorder {
  constructor(private readonly store: Store) {}

  record(
    pod: KObject,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
    source: EventSource,
    fieldPath?: string,
  ): void {
    const ns = pod.metadata.namespace ?? 'default';
    const involvedObject = {
      kind: 'Pod',
      namespace: ns,
      name: pod.metadata.name,
      uid: pod.metadata.uid,
      apiVersion: 'v1',
      resourceVersion: pod.metadata.resourceVersion,
      ...(fieldPath ? { fieldPath } : {}),
    };
    const same = this.store
      .list('events', ns)
      .find(
        (e) =>
          e.reason === reason &&
          e.message === message &&
          (e.involvedObject as { uid?: string }).uid === pod.metadata.uid &&
          (e.involvedObject as { fieldPath?: string }).fieldPath === fieldPath,
      );
    if (same) {
      this.store.update('events', ns, same.metadata.name, (e) => {
        e.count = ((e.count as number | undefined) ?? 1) + 1;
        e.lastTimestamp = nowSeconds();
      });
      return;
    }
    const now = nowSeconds();
    this.store.create('events', {
      metadata: { name: `${pod.metadata.name}.${randomBytes(8).toString('hex')}`, namespace: ns },
      involvedObject,
      reason,
      message,
      source,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
      type,
      eventTime: null,
      reportingComponent: source.component,
      reportingInstance: source.host ?? '',
    });
  }
}
