// The stall audit: a periodic pass (and one at start) over every unfinished build that compares what
// the store says with what this hub is doing about it, and repairs what does not match. A build must
// never sit pending or started with nothing driving it:
//
// - a started build (or a pending check build) that the engine does not run: resumed (the replay
//   carries on where the store says it is, and finishes a build whose steps all ended); a pending job
//   build is the scheduler's, which is asked to look at its pipeline again;
// - a step run assigned or running under a lease nobody tracks (the dispatcher, or with replicas a live
//   replica): adopted as after a restart (its agent has the grace to list it, then it is re-queued or
//   errored with the reason), or errored at once when it names no agent to wait for;
// - a build the engine runs that still waits, two passes in a row, on a step run that has ended: the
//   stored outcome is delivered to the engine again (a lost `ended` callback would leave it waiting).
//
// Every repair is logged and counted in outpost_hub_audit_repairs_total{kind}.

import type { Logger } from 'pino';
import type { Dispatcher } from '../dispatch/dispatcher.js';
import type { HubMetrics } from '../metrics.js';
import { CHECK_JOB_PREFIX, type StepRun, type Store } from '../store/store.js';
import { outcomeFromStore } from './dispatched-step.js';
import type { Engine } from './engine.js';

export type AuditKind =
  'pending_build_not_running' | 'started_build_not_running' | 'orphan_lease' | 'outcome_redelivered';

export interface AuditFinding {
  kind: AuditKind;
  buildId: number;
  stepRunId?: number;
  detail: string;
}

export interface AuditDeps {
  store: Store;
  engine: Engine;
  dispatcher: Dispatcher;
  metrics: HubMetrics;
  log: Logger;
  /** Pending job builds wait for the scheduler (inputs, limits, pauses): it is asked to look again. */
  schedule: (pipelineId: number) => void;
  now?: () => number;
}

const ENDED: readonly StepRun['status'][] = ['succeeded', 'failed', 'errored', 'aborted'];

export class BuildAudit {
  /** Builds seen last pass waiting on ended step runs: build id -> which ones. */
  private ended = new Map<number, string>();
  private running: Promise<AuditFinding[]> | undefined;
  private readonly now: () => number;

  constructor(private readonly deps: AuditDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Runs a pass now and then every `intervalMs`; returns a function that stops it. */
  start(intervalMs: number): () => void {
    const tick = () => {
      this.run().catch((err: unknown) => this.deps.log.error({ err }, 'audit pass failed'));
    };
    tick();
    const timer = setInterval(tick, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  /** One pass; concurrent callers share it. Resolves with what it found (and repaired). */
  run(): Promise<AuditFinding[]> {
    this.running ??= this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  /** Resolves when no pass is in progress (hub drain). */
  async idle(): Promise<void> {
    await this.running?.catch(() => undefined);
  }

  private async pass(): Promise<AuditFinding[]> {
    const { store, engine, dispatcher, log } = this.deps;
    const findings: AuditFinding[] = [];
    const endedNow = new Map<number, string>();
    const builds = await store.listBuilds({ statuses: ['pending', 'started'], limit: 100_000 });
    const tracked = await dispatcher.leaseKeeper();
    for (const build of builds.reverse()) {
      const steps = await store.listStepRuns(build.id);
      for (const step of steps) {
        if ((step.status !== 'assigned' && step.status !== 'running') || !step.leaseId) continue;
        if (tracked(step.leaseId)) continue;
        const reason = step.agentName
          ? `agent "${step.agentName}" did not list the step within the grace period (found by the audit)`
          : 'the step was assigned to no agent (found by the audit)';
        const detail = `step run ${step.id} is ${step.status} under lease ${step.leaseId}, which the dispatcher does not track`;
        if (!(await dispatcher.adopt(step.id, reason))) await this.errorStep(step, reason);
        findings.push({ kind: 'orphan_lease', buildId: build.id, stepRunId: step.id, detail });
      }
      if (!engine.isRunning(build.id)) {
        // A pending one-off build is the engine's alone (no scheduler starts it): resumed below.
        const scheduled = !build.oneOff && !build.jobName.startsWith(CHECK_JOB_PREFIX.resource);
        if (build.status === 'pending' && scheduled) {
          // One with a reason is explained (it waits for inputs, limits or an unpause); one without has
          // not been looked at by the scheduler.
          if (build.pendingReason === null) {
            this.deps.schedule(build.pipelineId);
            findings.push({
              kind: 'pending_build_not_running',
              buildId: build.id,
              detail: `build ${build.id} was pending with no reason; handed to the scheduler`,
            });
          }
          continue;
        }
        if (await engine.resume(build.id)) {
          findings.push({
            kind: build.status === 'pending' ? 'pending_build_not_running' : 'started_build_not_running',
            buildId: build.id,
            detail: `build ${build.id} was ${build.status} but not running; resumed`,
          });
        }
        continue;
      }
      const waitedOn = steps.filter((s) => ENDED.includes(s.status) && engine.waitsFor(s.id));
      if (waitedOn.length > 0) {
        // Two passes in a row, so an outcome being delivered right now is not mistaken for a lost one.
        const fingerprint = waitedOn.map((s) => `${s.id}:${s.status}`).join(',');
        if (this.ended.get(build.id) === fingerprint) {
          for (const step of waitedOn) engine.ended(step.id, build.id, outcomeFromStore(step));
          findings.push({
            kind: 'outcome_redelivered',
            buildId: build.id,
            detail: `build ${build.id} waited on ended step runs ${fingerprint}; outcomes delivered again`,
          });
        } else {
          endedNow.set(build.id, fingerprint);
        }
      }
    }
    this.ended = endedNow;
    for (const f of findings) {
      this.deps.metrics.auditRepairs.inc({ kind: f.kind });
      log.warn(f, 'audit repaired an inconsistent build');
    }
    this.deps.metrics.auditRuns.inc();
    return findings;
  }

  /** Ends a step that nobody can finish, with the reason, and tells the engine. */
  private async errorStep(step: StepRun, reason: string): Promise<void> {
    const ok = await this.deps.store.updateStepRun(step.id, step.leaseId, {
      status: 'errored',
      error: reason,
      endedAt: this.now(),
    });
    if (ok)
      this.deps.engine.ended(step.id, step.buildId, {
        status: 'errored',
        exitStatus: null,
        error: reason,
        outputs: [],
      });
  }
}
