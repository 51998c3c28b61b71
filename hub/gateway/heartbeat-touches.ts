// Agents' last heartbeat times in the store, written for every live session together. A statement per
// session every 10 s was 1,000 store writes a second with 10,000 agents connected, most of an idle
// hub's CPU; one UPDATE per few hundred agents per interval keeps the same resolution (the API and the
// other replicas only ask whether an agent was heard from in the last minute).

import type { Logger } from 'pino';
import { chunks } from '../../common/chunks.js';
import type { Store } from '../store/store.js';

/** How often the touched agents are written: the resolution of `lastHeartbeatAt`. */
export const TOUCH_INTERVAL_MS = 10_000;
/** Names per statement: far below SQLite's and PostgreSQL's bound-parameter limits. */
const NAMES_PER_STATEMENT = 500;

export class HeartbeatTouches {
  private touched = new Set<string>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Pick<Store, 'touchAgents'>,
    private readonly now: () => number,
    private readonly log: Logger,
    intervalMs = TOUCH_INTERVAL_MS,
  ) {
    this.timer = setInterval(() => void this.flush(), intervalMs);
    this.timer.unref();
  }

  /** The agent was heard from (its session is live): recorded at the next flush. */
  touch(agentName: string): void {
    this.touched.add(agentName);
  }

  /** Writes every agent touched since the last flush; a failure is logged and the next flush retries. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (this.touched.size === 0) return;
      const names = [...this.touched];
      this.touched = new Set();
      const at = this.now();
      for (const chunk of chunks(names, NAMES_PER_STATEMENT)) {
        try {
          await this.store.touchAgents(chunk, at);
        } catch (err) {
          this.log.warn({ err, agents: chunk.length }, 'could not record agent heartbeats');
          for (const name of chunk) this.touched.add(name);
        }
      }
    });
    return this.flushing;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
