// Ended steps the agent keeps (not cleaned up) so that `outpost intercept` can still enter them, as
// Concourse keeps a build's containers: a failed step for its pool's keep_failed_steps_for; a succeeded
// step until the hub says its build ended (BuildEnded), then for keep_failed_steps_for if the build
// failed, else not at all. Without that word (the hub restarted, or the build ran on another replica)
// a succeeded step goes AWAIT_BUILD_MAX_MS after its end.

import type { RunningStep } from './executors/executor.js';

/** How long a succeeded step waits at most for its build's end. */
export const AWAIT_BUILD_MAX_MS = 60 * 60_000;

interface Kept {
  running: RunningStep;
  timer: NodeJS.Timeout;
  /** Set while the step waits for its build's end: its build and how long to keep it if that failed. */
  awaiting?: { buildId: number; keepMs: number };
}

export class KeptSteps {
  private readonly steps = new Map<string, Kept>();

  /** The kept step of that lease, if any. */
  get(leaseId: string): RunningStep | undefined {
    return this.steps.get(leaseId)?.running;
  }

  leases(): string[] {
    return [...this.steps.keys()];
  }

  /** A failed step: cleaned up after `keepMs`. */
  keepFor(running: RunningStep, keepMs: number): void {
    this.hold(running, keepMs);
  }

  /** A succeeded step of `buildId`: kept until its build ends (see buildEnded), at most AWAIT_BUILD_MAX_MS. */
  awaitBuild(running: RunningStep, buildId: number, keepMs: number): void {
    this.hold(running, AWAIT_BUILD_MAX_MS).awaiting = { buildId, keepMs };
  }

  /** The hub says the build ended: its steps go now (it succeeded) or after their keepMs (it failed). */
  buildEnded(buildId: number, failed: boolean): void {
    for (const kept of [...this.steps.values()]) {
      if (kept.awaiting?.buildId !== buildId) continue;
      if (failed) this.hold(kept.running, kept.awaiting.keepMs);
      else this.release(kept.running.leaseId);
    }
  }

  /** Cleans every kept step up now (the agent stops). */
  async clear(): Promise<void> {
    const kept = [...this.steps.values()];
    this.steps.clear();
    for (const { running, timer } of kept) {
      clearTimeout(timer);
      await running.cleanup();
    }
  }

  private hold(running: RunningStep, ms: number): Kept {
    clearTimeout(this.steps.get(running.leaseId)?.timer);
    const timer = setTimeout(() => this.release(running.leaseId), ms);
    timer.unref();
    const kept: Kept = { running, timer };
    this.steps.set(running.leaseId, kept);
    return kept;
  }

  private release(leaseId: string): void {
    const kept = this.steps.get(leaseId);
    if (!kept) return;
    clearTimeout(kept.timer);
    this.steps.delete(leaseId);
    void kept.running.cleanup();
  }
}
