// The build event log: every event is persisted first (the store assigns its per-build seq), then
// published to live subscribers. SSE readers replay from the store and then follow the live feed, so a
// reader that connects late or reconnects sees each event exactly once, in order.

import { EventEmitter } from 'node:events';
import type { BuildEvent, LogAppend, LogAppendOptions, LogAppendResult, Store } from '../store/store.js';

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

export type BuildEventListener = (event: BuildEvent) => void;

export class BuildEvents {
  private readonly emitter = new EventEmitter();

  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
  ) {
    // One listener per SSE reader; many readers of one busy build are normal.
    this.emitter.setMaxListeners(0);
  }

  async emit(buildId: number, type: BuildEventType, data: unknown): Promise<BuildEvent> {
    const event = await this.store.appendBuildEvent(buildId, {
      type,
      version: EVENT_VERSIONS[type],
      data,
      at: this.now(),
    });
    this.emitter.emit(String(buildId), event);
    return event;
  }

  async appendLog(input: LogAppend): Promise<LogAppendResult> {
    const result = await this.store.appendLog(input);
    if (result.kind === 'stored') this.emitter.emit(String(result.event.buildId), result.event);
    return result;
  }

  /** Appends many log chunks in one store transaction, then publishes what was stored, in order. */
  async appendLogs(inputs: LogAppend[], options?: LogAppendOptions): Promise<LogAppendResult[]> {
    const results = await this.store.appendLogs(inputs, options);
    for (const result of results) {
      const event =
        result.kind === 'stored' ? result.event : result.kind === 'truncated' ? result.marker : undefined;
      if (event) this.emitter.emit(String(event.buildId), event);
    }
    return results;
  }

  subscribe(buildId: number, listener: BuildEventListener): () => void {
    const key = String(buildId);
    this.emitter.on(key, listener);
    return () => this.emitter.off(key, listener);
  }
}

/** Concourse event times are Unix seconds. */
export function eventTime(ms: number): number {
  return Math.floor(ms / 1000);
}
