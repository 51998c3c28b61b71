// When each hop of one step happened on the agent: the Assign received, the executor asked to start it
// (inputs fetched), the step handed to its supervisor and taken by it (the process executor's step
// host), its process spawned (the executor's clock, where it says), the executor's start
// resolved (Started goes to the hub), the process ended (the executor's clock), the result known to
// the runner (output read to its end), Finished sent. The runner logs the hops at debug level as
// 'step timeline' once Finished is sent; the bench reads them (bench/build.ts) to say where a step's
// time goes on the agent.
import { performance } from 'node:perf_hooks';

/** Unix ms with the sub-millisecond part: comparable across the processes of one host. */
export const preciseNow = (): number => performance.timeOrigin + performance.now();

export type StepMark =
  | 'assigned'
  | 'starting'
  | 'handedOver'
  | 'received'
  | 'spawned'
  | 'started'
  | 'exited'
  | 'ended'
  | 'finished';

/** The hops as the log line carries them: ms from one mark to the next, absent when a mark is missing. */
export interface StepHops {
  /** Assign received -> executor asked to start (input and image fetches, a sweep under way). */
  prepareMs?: number;
  /** Executor asked to start -> its process spawned (the work dir made, the step handed over). */
  spawnMs?: number;
  /** Executor asked to start -> the step handed to its supervisor (its dirs and state files made). */
  setupMs?: number;
  /** Handed over -> the supervisor took it (the message's trip, the supervisor's turn). */
  deliverMs?: number;
  /** The supervisor took it -> its process spawned (the supervisor's files, fork and exec). */
  forkExecMs?: number;
  /** Process spawned -> the executor's start resolved (its word back to the agent). */
  confirmMs?: number;
  /** Assign received -> its process spawned: the agent's part of a step's start. */
  assignToSpawnedMs?: number;
  /** Process spawned -> process ended. */
  runMs?: number;
  /** Process ended -> result known (output read to its end). */
  collectMs?: number;
  /** Result known -> Finished sent (outputs packed and uploaded, caches back). */
  reportMs?: number;
  /** Process ended -> Finished sent: the agent's part of a step's end. */
  exitedToFinishedMs?: number;
}

export class StepTimeline {
  private readonly marks = new Map<StepMark, number>();

  constructor(private readonly now: () => number = preciseNow) {
    this.mark('assigned');
  }

  /** Records `mark` now, or at `at` (another clock of this host: the executor's). */
  mark(mark: StepMark, at: number = this.now()): void {
    this.marks.set(mark, at);
  }

  /** Each mark taken, on the clock it was taken on (preciseNow unless given): for a timeline across processes. */
  at(): Partial<Record<StepMark, number>> {
    return Object.fromEntries(this.marks);
  }

  hops(): StepHops {
    const span = (from: StepMark, to: StepMark) => {
      const a = this.marks.get(from);
      const b = this.marks.get(to);
      return a === undefined || b === undefined ? undefined : Math.round((b - a) * 100) / 100;
    };
    const hops: StepHops = {
      prepareMs: span('assigned', 'starting'),
      spawnMs: span('starting', 'spawned'),
      setupMs: span('starting', 'handedOver'),
      deliverMs: span('handedOver', 'received'),
      forkExecMs: span('received', 'spawned'),
      confirmMs: span('spawned', 'started'),
      assignToSpawnedMs: span('assigned', 'spawned'),
      runMs: span('spawned', 'exited'),
      collectMs: span('exited', 'ended'),
      reportMs: span('ended', 'finished'),
      exitedToFinishedMs: span('exited', 'finished'),
    };
    return Object.fromEntries(Object.entries(hops).filter(([, ms]) => ms !== undefined));
  }
}
