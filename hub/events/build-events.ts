// The build event log: every event is persisted first (the store assigns its per-build seq), then
// published to live subscribers. SSE readers replay from the store and then follow the live feed, so a
// reader that connects late or reconnects sees each event exactly once, in order.

import { EventEmitter } from 'node:events';
import type { BuildEvent, LogAppend, LogAppendOptions, LogAppendResult, Store } from '../store/store.js';

/** Concourse's event versions for the event types Outpost emits. */
export const EVENT_VERSIONS: Record<string, string> = {
  status: '1.0',
  log: '5.1',
  error: '4.1',
  'initialize-task': '4.0',
  'start-task': '5.0',
  'finish-task': '4.0',
  'selected-worker': '1.0',
  'waiting-for-worker': '1.0',
};

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

  async emit(buildId: number, type: string, data: unknown): Promise<BuildEvent> {
    const event = await this.store.appendBuildEvent(buildId, {
      type,
      version: EVENT_VERSIONS[type] ?? '1.0',
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
