// The build event log: every event is persisted first (the store assigns its per-build seq), then
// published to live subscribers. SSE readers replay from the store and then follow the live feed, so a
// reader that connects late or reconnects sees each event exactly once, in order.
//
// Replicas on PostgreSQL store events of one build from several processes (logs from the replica with
// the agent's stream, statuses from the one running the build): each tells the others "build N has
// events up to seq S" (hub/replicas/signals.ts), and their subscribers get a hint (no event) on which
// they read the store. A periodic hint to every subscribed build makes up for a lost notification.

import { EventEmitter } from 'node:events';
import type { ReplicaSignals } from '../replicas/signals.js';
import type {
  Announcement,
  BuildEvent,
  LogAppend,
  LogAppendOptions,
  LogAppendResult,
  Store,
  WriteOptions,
} from '../store/store.js';

/**
 * The event types a build's stream carries: Concourse's own (atc/event/types.go), each at the version
 * Concourse emits it (atc/event/events.go), with the same payload fields, so fly and other readers of
 * Concourse event streams accept every event. Nothing else is emitted: a type missing here does not
 * compile. Hub-only notes (why a build is pending) travel as `log` events without a step origin.
 */
export const EVENT_VERSIONS = {
  status: '1.0',
  log: '5.1',
  error: '4.1',
  'initialize-task': '4.0',
  'start-task': '5.0',
  'finish-task': '4.0',
  'initialize-check': '1.0',
  'initialize-get': '2.0',
  'start-get': '1.0',
  'finish-get': '5.1',
  'initialize-put': '2.0',
  'start-put': '1.0',
  'finish-put': '5.1',
  initialize: '1.0',
  start: '1.0',
  finish: '1.0',
  'selected-worker': '1.0',
  'waiting-for-worker': '1.0',
} as const satisfies Record<string, string>;

export type BuildEventType = keyof typeof EVENT_VERSIONS;

/** An event of a build, as its emitter gives it. */
export interface NewEvent {
  buildId: number;
  type: BuildEventType;
  data: unknown;
}

/** A stored event, or undefined: the build has new events in the store (stored by another replica). */
export type BuildEventListener = (event: BuildEvent | undefined) => void;

export class BuildEvents {
  private readonly emitter = new EventEmitter();
  private signals: ReplicaSignals | undefined;

  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
  ) {
    // One listener per SSE reader; many readers of one busy build are normal.
    this.emitter.setMaxListeners(0);
  }

  /** Stores an event and publishes it; `write.deferCommit`: it may share a later commit (store.ts). */
  async emit(
    buildId: number,
    type: BuildEventType,
    data: unknown,
    write?: WriteOptions,
  ): Promise<BuildEvent> {
    const event = await this.store.appendBuildEvent(
      buildId,
      { type, version: EVENT_VERSIONS[type], data, at: this.now() },
      write,
    );
    if (write?.deferCommit) this.publishWhenDurable([event]);
    else this.published(event);
    return event;
  }

  /**
   * Events to store with the state change they announce (store.ts Announcement), in the transaction
   * of that change; they are published once it has committed, as `emit` publishes its event.
   */
  announcement(events: NewEvent[]): Announcement {
    const at = this.now();
    return {
      events: events.map(({ buildId, type, data }) => ({
        buildId,
        type,
        version: EVENT_VERSIONS[type],
        data,
        at,
      })),
      stored: (stored) => this.publishWhenDurable(stored),
    };
  }

  /**
   * A deferred write (hub/store/commit-batch.ts) returns before its commit: its events reach live
   * readers only once they are durable, so no reader sees an event a crash could take back.
   */
  private publishWhenDurable(events: BuildEvent[]): void {
    void this.store.durable().then(() => {
      for (const event of events) this.published(event);
    });
  }

  /** Announcements stored together: each hears of its own events. */
  static joined(...parts: (Announcement | undefined)[]): Announcement {
    const present = parts.filter((p): p is Announcement => p !== undefined);
    return {
      events: present.flatMap((p) => p.events),
      stored: (stored) => {
        let at = 0;
        for (const part of present) {
          part.stored(stored.slice(at, at + part.events.length));
          at += part.events.length;
        }
      },
    };
  }

  async appendLog(input: LogAppend): Promise<LogAppendResult> {
    const result = await this.store.appendLog(input);
    if (result.kind === 'stored') this.published(result.event);
    return result;
  }

  /** Appends many log chunks in one store transaction, then publishes what was stored, in order. */
  async appendLogs(inputs: LogAppend[], options?: LogAppendOptions): Promise<LogAppendResult[]> {
    const results = await this.store.appendLogs(inputs, options);
    const last = new Map<number, number>();
    for (const result of results) {
      const event =
        result.kind === 'stored' ? result.event : result.kind === 'truncated' ? result.marker : undefined;
      if (event) {
        this.emitter.emit(String(event.buildId), event);
        last.set(event.buildId, event.seq);
      }
    }
    // One hint per build for the whole batch.
    for (const [buildId, seq] of last)
      this.signals?.publish('build_events', hint(this.signals, buildId, seq));
    return results;
  }

  /**
   * Replicas: tells the others of events stored here and hints this replica's subscribers of theirs,
   * and every `recheckMs` (and after a lost connection) hints every subscribed build. Returns a stop.
   */
  connectReplicas(signals: ReplicaSignals, recheckMs: number): () => void {
    this.signals = signals;
    signals.on('build_events', (payload) => {
      const [replica, buildId] = payload.split(' ');
      if (replica !== signals.replicaId && buildId) this.emitter.emit(buildId, undefined);
    });
    const all = () => {
      for (const name of this.emitter.eventNames()) this.emitter.emit(name, undefined);
    };
    signals.onReconnect(all);
    const timer = setInterval(all, recheckMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  private published(event: BuildEvent): void {
    this.emitter.emit(String(event.buildId), event);
    this.signals?.publish('build_events', hint(this.signals, event.buildId, event.seq));
  }

  subscribe(buildId: number, listener: BuildEventListener): () => void {
    const key = String(buildId);
    this.emitter.on(key, listener);
    return () => this.emitter.off(key, listener);
  }
}

function hint(signals: ReplicaSignals, buildId: number, seq: number): string {
  return `${signals.replicaId} ${buildId} ${seq}`;
}

/** Concourse event times are Unix seconds. */
export function eventTime(ms: number): number {
  return Math.floor(ms / 1000);
}
