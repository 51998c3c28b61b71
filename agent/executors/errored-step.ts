// A step that never ran (refused by its pool, a bad path, an input that would not unpack): it ends
// `errored` with the reason at once, with nothing to follow or collect. Shared by every executor.

import type { PackedArchive } from '../artifacts/archive.js';
import type { ExecResult, LogData, RunningStep } from './executor.js';

export class ErroredStep implements RunningStep {
  private readonly result: ExecResult;

  constructor(
    readonly leaseId: string,
    error: string,
    /** Removes whatever the executor created before it gave up (a work dir, say). */
    private readonly onCleanup: () => Promise<void> = () => Promise.resolve(),
  ) {
    this.result = { status: 'errored', exitStatus: -1, error };
  }

  logs(): AsyncIterable<LogData> {
    return (async function* () {})();
  }

  wait(): Promise<ExecResult> {
    return Promise.resolve(this.result);
  }

  abort(): Promise<void> {
    return Promise.resolve();
  }

  collectOutputs(): Promise<{ name: string; archive: PackedArchive }[]> {
    return Promise.resolve([]);
  }

  cleanup(): Promise<void> {
    return this.onCleanup();
  }
}
