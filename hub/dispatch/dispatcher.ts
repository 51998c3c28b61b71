// Push dispatch with leases (design §2). The dispatcher owns every step run's lease: it assigns ready
// steps to connected agents the moment a pool has room, re-queues assignments that are not accepted in
// time, keeps a disconnected agent's running steps for a grace period, and fences every message that
// names a lease that moved on. What happens to a lease on each event is lease-machine.ts's transition;
// this file feeds it the events and carries out its steps (store writes, the queue, timers, messages).
//
// State lives in two places: the store (the step run's status and lease id, written by compare-and-set
// on the lease so a stale party can never overwrite a newer one) and this process (timers, the queue
// and which session holds which lease). After a hub restart `recover()` rebuilds the second from the
// first; the engine re-enqueues steps that were still pending.
//
// Replicas on PostgreSQL (`shared`) each run a dispatcher for the agents connected to them. The store is
// then the queue: a step is marked queued there and every replica with a fitting agent may claim it
// (row-locked, SKIP LOCKED); the lease records the replica that holds it (the agent's stream), so a
// replica that lost an agent to another can no longer end its steps; an agent that reconnects to
// another replica is resumed there from the store. Hints (hub/replicas/signals.ts) wake replicas, and a
// periodic re-check of the store makes up for a lost one.
//
// All mutations run one at a time (`serial`) so two drains never hand out the same step.

import type { Logger } from 'pino';
import type { StoredDispatchSpec } from '../engine/dispatched-step.js';
import type { Announcement, StepRun, Store, WriteOptions } from '../store/store.js';
import type { HubMetrics } from '../metrics.js';
import type { ReplicaSignals } from '../replicas/signals.js';
import { newLeaseId } from './lease-id.js';
import { deadlineMs, storedStatus, transition, type LeaseEvent, type LeaseState } from './lease-machine.js';
import {
  agentMayRun,
  leaseWaitingReason,
  pickCandidate,
  poolAccepts,
  waitingReason,
  type Candidate,
} from './matching.js';
import { BuildEndNotices } from './build-end-notices.js';
import type { AgentConnection, PoolInfo, StepContext, StepEnding, StepOutcome, StepSpec } from './types.js';

/** The dispatcher's writes whose commit may be shared; what leaves the hub waits for it (`send`). */
const DEFER: WriteOptions = { deferCommit: true };

export interface DispatchListener {
  /** The step cannot be placed now; called again only when the reason changes. */
  waiting(stepRunId: number, buildId: number, reason: string): void;
  /**
   * The events that announce the step's assignment to the agent, stored with it (store.ts
   * Announcement). `step.planId`: when the caller knows it (the step run may not exist yet).
   */
  selected(
    step: { stepRunId: number; buildId: number; planId?: string },
    agentName: string,
    pool: PoolInfo,
    spec: StepSpec,
  ): Promise<Announcement | undefined>;
  /** The events that announce the step's end with this outcome, stored with it; `ended` follows. */
  ending(stepRunId: number, buildId: number, outcome: StepOutcome): Announcement | undefined;
  /** The step reached a final status (persisted before this is called); `agentName`: who ran it. */
  ended(stepRunId: number, buildId: number, outcome: StepOutcome, agentName?: string | null): void;
}

export interface DispatcherOptions {
  acceptWithinMs: number;
  leaseGraceMs: number;
  /** How long an agent gets to stop an aborted step before the hub ends it regardless. */
  abortGraceMs: number;
  now?: () => number;
  /** Replicas on PostgreSQL: the store is the queue shared with the other replicas. */
  shared?: SharedDispatch;
}

/** A step run about to be created, ready to run (Dispatcher.submit). */
export interface NewStep {
  buildId: number;
  planId: string;
  spec: StepSpec;
  /** Its context but for the step run's id, which the store gives it. */
  context: StepContext;
  preferAgent?: string;
  /**
   * Creates the step run: assigned under `claim` with `selected`'s events when given (one
   * transaction), else pending.
   */
  create(
    claim: { leaseId: string; agentName: string; pool: string } | undefined,
    selected: Announcement | undefined,
  ): Promise<StepRun>;
  /** The step run exists: called before any agent can answer for it (register for its end here). */
  created(run: StepRun): void;
}

export interface SharedDispatch {
  signals: ReplicaSignals;
  /** How often the store is re-read for queued steps and aborts (hints only make it sooner). */
  recheckMs: number;
}

interface QueueEntry {
  stepRunId: number;
  buildId: number;
  /** The step's id in the build's plan: the origin of its log events. */
  planId: string;
  spec: StepSpec;
  context: StepContext;
  readyAt: number;
  reason: string | undefined;
  rejectedBy: Map<string, string>;
  preferAgent: string | undefined;
}

interface Lease {
  leaseId: string;
  entry: QueueEntry | undefined;
  stepRunId: number;
  buildId: number;
  agentName: string;
  pool: string;
  state: LeaseState;
  conn: AgentConnection | undefined;
  /** The current state's deadline (lease-machine.ts deadlineMs). */
  timer: NodeJS.Timeout | undefined;
  /** Set by abort(): how the step ends once the agent has stopped it. */
  ending?: StepEnding;
  /**
   * Whether the agent said the step's process started (StepStarted). False from the assignment on;
   * undefined for a lease recovered from the store, where the hub cannot know.
   */
  processStarted?: boolean;
  /** When the agent accepted, while that is not stored yet (accepted: stored with the end, or soon). */
  unstoredAccept?: number;
}

export type HeldDecision =
  { leaseId: string; resume: true; ackedLogSeq: number } | { leaseId: string; resume: false; reason: string };

export type LeaseCheck = { ok: true; stepRunId: number; buildId: number } | { ok: false; reason: string };

export class Dispatcher {
  private readonly queue: QueueEntry[] = [];
  private readonly leases = new Map<string, Lease>();
  private readonly sessions = new Map<string, AgentConnection>();
  private readonly buildEnds: BuildEndNotices;
  /** Sessions whose Welcome has been sent: only these get assignments. */
  private readonly welcomed = new WeakSet<AgentConnection>();
  /** Leases per agent pool, kept with `leases` so routing never scans every lease. */
  private readonly poolUse = new Map<string, number>();
  private chain: Promise<unknown> = Promise.resolve();
  private readonly now: () => number;
  /** Replicas: this replica's id, recorded as the holder of the leases it hands out or takes over. */
  private readonly holder: string | undefined;
  private recheck: NodeJS.Timeout | undefined;
  /** Timers that offer a step again to an agent that once let its offer expire (missedOffer). */
  private readonly reoffers = new Set<NodeJS.Timeout>();
  private refillDue = false;

  constructor(
    private readonly store: Store,
    private readonly listener: DispatchListener,
    private readonly opts: DispatcherOptions,
    private readonly metrics: HubMetrics,
    private readonly log: Logger,
  ) {
    this.now = opts.now ?? Date.now;
    const shared = opts.shared;
    this.holder = shared?.signals.replicaId;
    this.buildEnds = new BuildEndNotices(
      (agentName, buildId, failed) => this.sessions.get(agentName)?.buildEnded(buildId, failed),
      shared?.signals,
    );
    if (shared) {
      const recheck = () => {
        this.refill();
        void this.serial(() => this.takeAborts());
      };
      // A replica's own hint: its queue has the step already.
      shared.signals.on('dispatch', (from) => {
        if (from !== this.holder) this.refill();
      });
      shared.signals.on('abort', () => void this.serial(() => this.takeAborts()));
      shared.signals.onReconnect(recheck);
      this.recheck = setInterval(recheck, shared.recheckMs);
      this.recheck.unref();
    }
  }

  /**
   * Rebuilds lease state after a restart: every assigned or running step waits for its agent. Replicas
   * do not: other replicas hold leases; the stall audit adopts those whose replica is gone.
   */
  async recover(): Promise<void> {
    if (this.holder !== undefined) return;
    await this.serial(async () => {
      for (const run of await this.store.listStepRunsByStatus(['assigned', 'running']))
        this.adoptNow(
          run,
          `agent "${run.agentName}" did not reconnect within the grace period after a hub restart`,
        );
    });
  }

  /** The agent started the step's process: from now on, losing it means the step ran (in part). */
  processStarted(leaseId: string): void {
    const lease = this.leases.get(leaseId);
    if (lease) lease.processStarted = true;
  }

  /**
   * Which leases someone tracks (the audit looks for step runs whose lease nobody does): this
   * dispatcher, or with replicas a replica that is alive.
   */
  async leaseKeeper(): Promise<(leaseId: string) => boolean> {
    const shared = this.opts.shared;
    if (!shared) return (leaseId) => this.leases.has(leaseId);
    const live = await shared.signals.liveReplicas();
    const holders = new Map(
      (await this.store.replicaDispatch.held()).map((h) => [h.run.leaseId ?? '', h.holder]),
    );
    return (leaseId) => {
      const holder = holders.get(leaseId);
      return this.leases.has(leaseId) || (holder !== undefined && holder !== null && live.has(holder));
    };
  }

  /**
   * Takes on an assigned or running step run whose lease this dispatcher does not track, as after a
   * restart: its agent gets the grace to list it, else it is re-queued (assigned) or errored (running).
   * False when the store no longer shows it so, or it has no agent to wait for.
   */
  adopt(stepRunId: number, reason: string): Promise<boolean> {
    return this.serial(async () => {
      const run = await this.store.getStepRun(stepRunId);
      if (!run || (run.status !== 'assigned' && run.status !== 'running') || !run.leaseId) return false;
      if (this.leases.has(run.leaseId)) return true;
      if (this.holder !== undefined) {
        // Taken from the replica recorded as its holder only: the agent may be resuming it elsewhere.
        const from = (await this.store.replicaDispatch.held()).find((h) => h.run.id === run.id)?.holder;
        if (
          from === undefined ||
          !(await this.store.replicaDispatch.hold(run.id, run.leaseId, this.holder, from))
        )
          return true;
      }
      return this.adoptNow(run, reason);
    });
  }

  private adoptNow(run: StepRun, reason: string): boolean {
    if (!run.leaseId || !run.agentName || !run.pool) return false;
    const lease: Lease = {
      leaseId: run.leaseId,
      entry: undefined,
      stepRunId: run.id,
      buildId: run.buildId,
      agentName: run.agentName,
      pool: run.pool,
      state: run.status === 'assigned' ? { kind: 'offered-away', reason } : { kind: 'running-away', reason },
      conn: undefined,
      timer: undefined,
    };
    this.addLease(lease);
    this.arm(lease);
    return true;
  }

  /**
   * A new step run, ready to run. When no older step waits and an agent has room, it is created
   * assigned to that agent, its lease and the events that say so in the transaction that creates it,
   * and the Assign goes out right after: readiness and the lease are one commit. Otherwise it is
   * created pending and queued (as enqueue does).
   */
  submit(step: NewStep): Promise<StepRun> {
    return this.serial(async () => {
      const entry: QueueEntry = {
        stepRunId: 0,
        buildId: step.buildId,
        planId: step.planId,
        spec: step.spec,
        context: step.context,
        readyAt: this.now(),
        reason: undefined,
        rejectedBy: new Map(),
        preferAgent: step.preferAgent,
      };
      // With replicas the store is the queue; anywhere, older steps go first.
      const choice =
        this.opts.shared || this.queue.length > 0
          ? undefined
          : pickCandidate(this.candidates(entry), entry.preferAgent);
      if (!choice) {
        const run = await step.create(undefined, undefined);
        step.created(run);
        await this.enqueueNow(run, step.spec, step.context, step.preferAgent);
        return run;
      }
      const { agent, pool } = choice;
      const claim = { leaseId: newLeaseId(), agentName: agent.agentName, pool: pool.name };
      const selected = await this.listener.selected(
        { stepRunId: 0, buildId: step.buildId, planId: step.planId },
        agent.agentName,
        pool,
        step.spec,
      );
      const run = await step.create(claim, selected);
      step.created(run);
      entry.stepRunId = run.id;
      entry.context = { ...step.context, stepRunId: run.id };
      this.leased(entry, choice, claim.leaseId);
      return run;
    });
  }

  /** A step is ready to run. `preferAgent` (holding its inputs) gets it when it has room. */
  enqueue(stepRun: StepRun, spec: StepSpec, context: StepContext, preferAgent?: string): Promise<void> {
    return this.serial(() => this.enqueueNow(stepRun, spec, context, preferAgent));
  }

  private async enqueueNow(
    stepRun: StepRun,
    spec: StepSpec,
    context: StepContext,
    preferAgent: string | undefined,
  ): Promise<void> {
    if (this.queue.some((e) => e.stepRunId === stepRun.id)) return;
    this.queue.push({
      stepRunId: stepRun.id,
      buildId: stepRun.buildId,
      planId: stepRun.planId,
      spec,
      context: { ...context, stepRunId: stepRun.id },
      readyAt: this.now(),
      reason: undefined,
      rejectedBy: new Map(),
      preferAgent,
    });
    await this.drain();
    // Replicas: a step no agent here took goes to the shared queue for the others (one taken here
    // costs no queue write and no hint).
    const waiting = this.queue.find((e) => e.stepRunId === stepRun.id);
    if (this.opts.shared && waiting) {
      const reason = this.sessions.size > 0 ? waiting.reason : undefined;
      await this.store.replicaDispatch.queue(stepRun.id, preferAgent, this.now(), reason);
      this.opts.shared.signals.publish('dispatch', this.holder ?? '');
    }
  }

  /** A session finished its handshake. Returns what the agent must do with each step it still holds. */
  attach(conn: AgentConnection, held: { leaseId: string }[]): Promise<HeldDecision[]> {
    return this.serial(async () => {
      const previous = this.sessions.get(conn.agentName);
      if (previous && previous !== conn) await this.detachNow(previous);
      this.sessions.set(conn.agentName, conn);
      this.metrics.agentsConnected.set(this.sessions.size);
      for (const entry of this.queue) entry.rejectedBy.delete(conn.agentName);

      const decisions: HeldDecision[] = [];
      const heldIds = new Set(held.map((h) => h.leaseId));
      if (this.holder !== undefined) await this.holdAgentLeases(conn.agentName, heldIds);
      for (const { leaseId } of held) {
        const lease = this.leases.get(leaseId);
        const run = lease ? await this.store.getStepRun(lease.stepRunId) : undefined;
        if (!lease || !run || lease.agentName !== conn.agentName || run.leaseId !== leaseId) {
          decisions.push({ leaseId, resume: false, reason: 'the hub no longer holds this lease' });
          continue;
        }
        const wasAssigned = storedStatus(lease.state) === 'assigned';
        lease.conn = conn;
        await this.apply(lease, {
          kind: 'reconnected',
          held: true,
          processStarted: lease.processStarted,
          agentName: conn.agentName,
        });
        if (wasAssigned) {
          // Accepted before the hub could record it (hub restart): the agent runs it, so it is running.
          lease.entry = undefined;
          await this.update(run.id, leaseId, { status: 'running', startedAt: this.now() });
        }
        decisions.push({ leaseId, resume: true, ackedLogSeq: run.logSeq });
      }
      // Leases this agent should hold but did not list: the agent lost them (it restarted without its state).
      for (const lease of [...this.leases.values()]) {
        if (lease.agentName !== conn.agentName || heldIds.has(lease.leaseId)) continue;
        await this.apply(lease, {
          kind: 'reconnected',
          held: false,
          processStarted: lease.processStarted,
          agentName: conn.agentName,
        });
      }
      // No assignments yet: the agent drops anything that arrives before its Welcome. See online().
      return decisions;
    });
  }

  /** The session's Welcome is out: from now on it takes assignments. */
  online(conn: AgentConnection): Promise<void> {
    return this.serial(async () => {
      if (this.sessions.get(conn.agentName) !== conn) return;
      this.welcomed.add(conn);
      await this.drain();
    });
  }

  /** The session ended (stream closed or heartbeats missed). False when a newer session already replaced it. */
  detach(conn: AgentConnection): Promise<boolean> {
    return this.serial(async () => {
      if (this.sessions.get(conn.agentName) !== conn) return false;
      await this.detachNow(conn);
      await this.drain();
      return true;
    });
  }

  /** The agent says it is draining: no new work for it; what it holds continues. */
  draining(): Promise<void> {
    return this.serial(() => this.drain());
  }

  accepted(conn: AgentConnection, leaseId: string): Promise<LeaseCheck> {
    return this.serial(async () => {
      const lease = this.leases.get(leaseId);
      if (!lease || lease.conn !== conn) return { ok: false, reason: 'unknown or expired lease' };
      if (storedStatus(lease.state) === 'running')
        return { ok: true, stepRunId: lease.stepRunId, buildId: lease.buildId };
      if (this.opts.shared) {
        // Another replica may have taken the lease: the fence says whether it is still this one's.
        const ok = await this.update(lease.stepRunId, leaseId, { status: 'running', startedAt: this.now() });
        if (!ok) return { ok: false, reason: 'lease moved on' };
      } else {
        // This dispatcher alone moves its leases. The accept is stored with the step's end when that
        // comes in this same turn (an instant step: one commit, not two), else at the turn's end: a hub
        // that dies before then acts as if the Accept were still unread in its socket.
        lease.unstoredAccept = this.now();
        setImmediate(() => void this.serial(() => this.storeAccept(lease)));
      }
      await this.apply(lease, { kind: 'accepted' });
      lease.entry = undefined;
      return { ok: true, stepRunId: lease.stepRunId, buildId: lease.buildId };
    });
  }

  rejected(conn: AgentConnection, leaseId: string, reason: string): Promise<void> {
    return this.serial(async () => {
      const lease = this.leases.get(leaseId);
      if (!lease || lease.conn !== conn || lease.state.kind !== 'offered') return;
      lease.entry?.rejectedBy.set(conn.agentName, reason);
      await this.apply(lease, { kind: 'rejected', reason });
      await this.drain();
    });
  }

  /** Stores the lease's accept if it is not stored yet: a write that must follow it waits for this. */
  async acceptStored(leaseId: string): Promise<void> {
    const lease = this.leases.get(leaseId);
    if (lease) await this.storeAccept(lease);
  }

  private async storeAccept(lease: Lease): Promise<void> {
    const startedAt = lease.unstoredAccept;
    if (startedAt === undefined) return;
    lease.unstoredAccept = undefined;
    await this.update(lease.stepRunId, lease.leaseId, { status: 'running', startedAt }, undefined, DEFER);
  }

  /** Fencing for messages about a running step (logs, started): is this lease current for this session? */
  check(conn: AgentConnection, leaseId: string): LeaseCheck {
    const lease = this.leases.get(leaseId);
    if (!lease || lease.conn !== conn) return { ok: false, reason: 'unknown or expired lease' };
    if (storedStatus(lease.state) !== 'running') return { ok: false, reason: 'the step was not accepted' };
    return { ok: true, stepRunId: lease.stepRunId, buildId: lease.buildId };
  }

  /** A running lease, whoever holds it (artifact calls come outside the session stream). */
  runningLease(leaseId: string): { stepRunId: number; buildId: number; agentName: string } | undefined {
    const lease = this.leases.get(leaseId);
    return lease && storedStatus(lease.state) === 'running'
      ? { stepRunId: lease.stepRunId, buildId: lease.buildId, agentName: lease.agentName }
      : undefined;
  }

  /**
   * The agent reports the step's result. Persists it, frees capacity, tells the engine. It may resolve
   * before the end is committed (the engine's writes it causes, the build's end and the next step, share
   * that commit): the FinishedAck goes through the session, which holds it until then.
   */
  finished(conn: AgentConnection, leaseId: string, outcome: StepOutcome): Promise<LeaseCheck> {
    return this.serial(async () => {
      const check = this.check(conn, leaseId);
      if (!check.ok) return check;
      const lease = this.leases.get(leaseId);
      // The agent has room again: steps it turned away (at capacity) may go to it now.
      for (const entry of this.queue) entry.rejectedBy.delete(conn.agentName);
      if (outcome.status === 'succeeded') this.buildEnds.succeeded(check.buildId, conn.agentName);
      // A step stopped on the hub's behalf (a timeout, say) ends the way the hub asked, not as "aborted".
      if (lease)
        await this.apply(
          lease,
          { kind: 'finished' },
          lease.ending && outcome.status === 'aborted' ? { ...outcome, ...lease.ending } : outcome,
        );
      await this.drain();
      return check;
    });
  }

  /**
   * Abort a step wherever it is: dequeue it if waiting, revoke it if unaccepted, ask the agent to stop it
   * if running (ending it here if the agent does not answer within the abort grace or is away).
   */
  abort(stepRunId: number, ending: StepEnding): Promise<void> {
    const outcome: StepOutcome = { ...ending, exitStatus: null, outputs: [] };
    return this.serial(async () => {
      const index = this.queue.findIndex((e) => e.stepRunId === stepRunId);
      const local = [...this.leases.values()].some((l) => l.stepRunId === stepRunId);
      if (this.opts.shared && !local) {
        // Pending (wherever queued) it ends now; else the replica holding its lease stops it.
        if (index >= 0) this.queue.splice(index, 1);
        const done = await this.store.replicaDispatch.requestAbort(stepRunId, ending, this.now());
        if (done === 'ended') {
          const run = await this.store.getStepRun(stepRunId);
          this.opts.shared.signals.publish('step_ended', String(stepRunId));
          if (run) this.listener.ended(stepRunId, run.buildId, outcome);
        } else if (done === 'asked') this.opts.shared.signals.publish('abort', String(stepRunId));
        return;
      }
      const [entry] = index >= 0 ? this.queue.splice(index, 1) : [];
      if (entry) {
        this.metrics.queueDepth.set(this.queue.length);
        const ok = await this.store.updateStepRun(
          stepRunId,
          null,
          { status: ending.status, error: ending.error, endedAt: this.now() },
          undefined,
          this.listener.ending(stepRunId, entry.buildId, outcome),
        );
        if (ok) this.listener.ended(stepRunId, entry.buildId, outcome, null);
        return;
      }
      const lease = [...this.leases.values()].find((l) => l.stepRunId === stepRunId);
      if (lease) await this.abortLease(lease, ending);
    });
  }

  private async abortLease(lease: Lease, ending: StepEnding): Promise<void> {
    lease.ending = ending;
    const before = lease.state;
    await this.apply(lease, { kind: 'abort', reason: ending.error });
    const { conn } = lease;
    if (lease.state !== before && lease.state.kind === 'aborting' && conn)
      conn.abort(lease.leaseId, this.opts.abortGraceMs, ending.error);
    if (!this.leases.has(lease.leaseId)) await this.drain();
  }

  /** Steps in use per agent pool (assigned or running), for routing and `outpost agents`. */
  inUse(agentName: string, pool: string): number {
    return this.poolUse.get(poolKey(agentName, pool)) ?? 0;
  }

  /** The steps waiting for an agent, oldest first: who they are, what they need, and why they wait. */
  queued(): { context: StepContext; platform: string; tags: string[]; since: number; reason?: string }[] {
    return this.queue.map((e) => ({
      context: e.context,
      platform: e.spec.platform,
      tags: e.spec.tags,
      since: e.readyAt,
      ...(e.reason === undefined ? {} : { reason: e.reason }),
    }));
  }

  /** Why a step is still waiting, if it is: queued for an agent, unaccepted, or its agent is away. */
  waitingReasonFor(stepRunId: number): string | undefined {
    const queued = this.queue.find((e) => e.stepRunId === stepRunId);
    if (queued) return queued.reason ?? 'queued for an agent';
    for (const lease of this.leases.values()) {
      if (lease.stepRunId !== stepRunId) continue;
      if (storedStatus(lease.state) === 'assigned')
        return leaseWaitingReason(lease.agentName, 'assigned', lease.conn !== undefined);
      if (lease.state.kind === 'running-away') return leaseWaitingReason(lease.agentName, 'running', false);
    }
    return undefined;
  }

  /** A build ended: the agents that ran succeeded steps of it let them go, or keep them for intercept. */
  buildEnded(buildId: number, status: string): void {
    this.buildEnds.ended(buildId, status !== 'succeeded');
  }

  /** The connected agent of that name (its session), if any. */
  connection(agentName: string): AgentConnection | undefined {
    return this.sessions.get(agentName);
  }

  /** Replicas on PostgreSQL: agents and leases are spread over the replicas, the store has them all. */
  get shared(): boolean {
    return this.opts.shared !== undefined;
  }

  connected(): AgentConnection[] {
    return [...this.sessions.values()];
  }

  /** Cancels every timer (hub shutdown). Leases stay in the store for the next start. */
  stop(): void {
    clearInterval(this.recheck);
    for (const lease of this.leases.values()) clearTimeout(lease.timer);
    for (const timer of this.reoffers) clearTimeout(timer);
  }

  /**
   * An agent that let an offer expire is passed over for that step, but only for a while: a silent
   * agent may just be slow (a loaded host, a stalled network), and an idle one would otherwise never
   * be offered the step again, since only a finished step or a new session clears a rejection.
   */
  private missedOffer(entry: QueueEntry, agentName: string): void {
    const why = `did not accept within ${this.opts.acceptWithinMs} ms`;
    entry.rejectedBy.set(agentName, why);
    const timer = setTimeout(() => {
      this.reoffers.delete(timer);
      void this.serial(async () => {
        if (entry.rejectedBy.get(agentName) !== why) return;
        entry.rejectedBy.delete(agentName);
        await this.drain();
      });
    }, this.opts.acceptWithinMs);
    this.reoffers.add(timer);
  }

  /**
   * A step run's store update, fenced by its lease and, with replicas, by this replica holding it;
   * with the events that announce it.
   */
  private update(
    stepRunId: number,
    leaseId: string,
    patch: Parameters<Store['updateStepRun']>[2],
    announcement?: Announcement,
    write?: WriteOptions,
  ): Promise<boolean> {
    return this.store.updateStepRun(stepRunId, leaseId, patch, this.holder, announcement, write);
  }

  /**
   * Replicas: the agent is connected here now, so this replica holds its live leases. Those it listed
   * are taken whoever held them; those it did not list only from the holder the store names (the
   * machine then requeues or ends them as lost).
   */
  private async holdAgentLeases(agentName: string, listed: Set<string>): Promise<void> {
    const holder = this.holder ?? '';
    for (const { run, holder: from } of await this.store.replicaDispatch.held()) {
      const leaseId = run.leaseId;
      if (run.agentName !== agentName || leaseId === null) continue;
      const taken = listed.has(leaseId)
        ? await this.store.replicaDispatch.hold(run.id, leaseId, holder)
        : from !== holder && (await this.store.replicaDispatch.hold(run.id, leaseId, holder, from));
      if (taken && !this.leases.has(leaseId))
        this.adoptNow(run, `agent "${agentName}" did not come back within the grace period`);
    }
  }

  /** Replicas: re-reads the shared queue (soon; one re-read at a time). */
  private refill(): void {
    if (this.refillDue) return;
    this.refillDue = true;
    void this.serial(async () => {
      this.refillDue = false;
      const queued = await this.store.replicaDispatch.queued();
      const ids = new Set(queued.map((q) => q.run.id));
      // Entries claimed or ended elsewhere leave the local queue.
      for (let i = this.queue.length - 1; i >= 0; i--)
        if (!ids.has(this.queue[i]?.stepRunId ?? 0)) this.queue.splice(i, 1);
      const known = new Set(this.queue.map((e) => e.stepRunId));
      for (const { run, queuedAt, preferAgent } of queued) {
        if (known.has(run.id)) continue;
        const entry = entryOf(run, queuedAt);
        if (entry) this.queue.push({ ...entry, preferAgent });
      }
      await this.drain();
    });
  }

  /** Replicas: aborts asked (by the replica running the build) of leases this replica holds. */
  private async takeAborts(): Promise<void> {
    for (const { stepRunId, ending } of await this.store.replicaDispatch.abortsFor(this.holder ?? '')) {
      const lease = [...this.leases.values()].find((l) => l.stepRunId === stepRunId);
      if (lease) await this.abortLease(lease, ending);
    }
  }

  private addLease(lease: Lease): void {
    this.leases.set(lease.leaseId, lease);
    const key = poolKey(lease.agentName, lease.pool);
    this.poolUse.set(key, (this.poolUse.get(key) ?? 0) + 1);
  }

  private removeLease(lease: Lease): void {
    if (!this.leases.delete(lease.leaseId)) return;
    const key = poolKey(lease.agentName, lease.pool);
    this.poolUse.set(key, (this.poolUse.get(key) ?? 1) - 1);
  }

  /** Free slots across every connected, non-draining pool: when there are none, no drain can assign. */
  private freeSlots(): number {
    let free = 0;
    for (const agent of this.sessions.values()) {
      if (agent.draining || !this.welcomed.has(agent)) continue;
      for (const pool of agent.pools)
        free += Math.max(0, pool.capacity - this.inUse(agent.agentName, pool.name));
    }
    return free;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn);
    this.chain = run.catch((err: unknown) => this.log.error({ err }, 'dispatcher operation failed'));
    return run;
  }

  /** serial(fn), queued once `first` has settled. */
  private async serialAfter(first: Promise<void> | undefined, fn: () => Promise<void>): Promise<void> {
    await first;
    return this.serial(fn);
  }

  /** The session is gone: its running steps keep their leases for the grace (lease-machine.ts). */
  private async detachNow(conn: AgentConnection): Promise<void> {
    this.sessions.delete(conn.agentName);
    this.metrics.agentsConnected.set(this.sessions.size);
    for (const lease of [...this.leases.values()]) {
      if (lease.conn !== conn) continue;
      lease.conn = undefined;
      await this.apply(lease, {
        kind: 'disconnected',
        reason: `agent "${conn.agentName}" disconnected and did not come back within the grace period`,
      });
    }
  }

  /** Feeds the lease machine one event and carries out its step. `outcome`: the agent's or the abort's. */
  private async apply(lease: Lease, event: LeaseEvent, outcome?: StepOutcome): Promise<void> {
    const step = transition(lease.state, event);
    if (step.kind === 'stay') {
      lease.state = step.state;
      if (step.changed) this.arm(lease);
      return;
    }
    const { conn } = lease;
    const { revoke } = step;
    if (revoke !== undefined && conn) conn.revoke(lease.leaseId, revoke);
    if (step.kind === 'requeue') return this.requeue(lease, step.why);
    const ending: StepOutcome =
      step.as === 'outcome' && outcome
        ? outcome
        : step.as === 'aborted' && lease.ending
          ? { ...lease.ending, exitStatus: null, outputs: [] }
          : { status: 'errored', exitStatus: null, error: step.error ?? 'the lease ended', outputs: [] };
    await this.endLease(lease, ending);
  }

  /** Arms the deadline of the lease's current state; when it passes, the machine decides. */
  private arm(lease: Lease): void {
    clearTimeout(lease.timer);
    const armed = lease.state;
    const ms = deadlineMs(armed, this.opts);
    lease.timer =
      ms === undefined
        ? undefined
        : setTimeout(() => {
            // The deadline judges the agent, not the hub: what the agent sent before it passed (an Accept
            // read late by a busy or stalled hub, or waiting in its inbox) is handled first, and counts.
            void this.serialAfter(lease.conn?.caughtUp(), async () => {
              // A state left since (by an event queued before this one) has no deadline to keep.
              if (this.leases.get(lease.leaseId) !== lease || lease.state !== armed) return;
              const expiry = { offered: 'unaccepted', 'offered-away': 'assigned', 'running-away': 'running' };
              if (armed.kind in expiry)
                this.metrics.leaseExpiries.inc({ kind: expiry[armed.kind as keyof typeof expiry] });
              if (armed.kind === 'offered' && lease.entry) this.missedOffer(lease.entry, lease.agentName);
              await this.apply(lease, { kind: 'deadline' });
              await this.drain();
            });
          }, ms);
  }

  /** Puts an unaccepted step back at the front of the queue under no lease. */
  private async requeue(lease: Lease, why: string): Promise<void> {
    clearTimeout(lease.timer);
    this.removeLease(lease);
    const ok = await this.update(lease.stepRunId, lease.leaseId, {
      status: 'pending',
      leaseId: null,
      agentName: null,
      pool: null,
    });
    this.log.info(
      { stepRunId: lease.stepRunId, leaseId: lease.leaseId, agent: lease.agentName, why },
      'step re-queued',
    );
    if (!ok) return;
    if (this.opts.shared) {
      await this.store.replicaDispatch.queue(lease.stepRunId, undefined, this.now());
      this.opts.shared.signals.publish('dispatch', this.holder ?? '');
    }
    const run = lease.entry ? undefined : await this.store.getStepRun(lease.stepRunId);
    const entry = lease.entry ?? (run && entryOf(run, this.now()));
    if (entry) this.queue.unshift(entry);
    this.metrics.queueDepth.set(this.queue.length);
  }

  private async endLease(lease: Lease, outcome: StepOutcome): Promise<void> {
    clearTimeout(lease.timer);
    this.removeLease(lease);
    const startedAt = lease.unstoredAccept;
    lease.unstoredAccept = undefined;
    const ok = await this.update(
      lease.stepRunId,
      lease.leaseId,
      {
        ...(startedAt === undefined ? {} : { startedAt }),
        status: outcome.status,
        exitStatus: outcome.exitStatus,
        error: outcome.error,
        endedAt: this.now(),
        result: {
          outputs: outcome.outputs,
          ...(outcome.resourceResult === undefined ? {} : { resourceResult: outcome.resourceResult }),
        },
      },
      this.listener.ending(lease.stepRunId, lease.buildId, outcome),
      // The engine's writes that follow (the build's end, its next step) share the commit; the
      // FinishedAck waits for it (finished).
      DEFER,
    );
    if (!ok) return;
    // The build now holds these artifacts: they live as long as it does (see hub/artifacts/gc.ts).
    await this.store.addBuildArtifacts(
      lease.buildId,
      outcome.outputs.map((o) => o.digest),
    );
    this.metrics.stepsFinished.inc({ status: outcome.status });
    // The replica running the build may be another: it reads the outcome from the store.
    this.opts.shared?.signals.publish('step_ended', String(lease.stepRunId));
    this.listener.ended(lease.stepRunId, lease.buildId, outcome, lease.agentName);
  }

  /** Assigns every queued step that some pool has room for, oldest first. */
  private async drain(): Promise<void> {
    // Counting free slots walks every session: with nothing queued (an agent connecting to an idle hub)
    // that walk made each of 10,000 connects O(agents).
    let free = this.queue.length > 0 ? this.freeSlots() : 0;
    for (let i = 0, entry = this.queue[0]; entry; entry = this.queue[i]) {
      // With every pool full nothing can move; only steps that never had a reason need one now.
      if (free === 0 && entry.reason !== undefined) {
        i++;
        continue;
      }
      const candidates = this.candidates(entry);
      const choice = pickCandidate(
        candidates.filter((c) => !entry.rejectedBy.has(c.agent.agentName)),
        entry.preferAgent,
      );
      if (!choice) {
        const reason =
          candidates.length > 0 && candidates.every((c) => entry.rejectedBy.has(c.agent.agentName))
            ? `rejected by every eligible agent (${[...entry.rejectedBy].map(([a, r]) => `${a}: ${r}`).join('; ')})`
            : waitingReason(entry.spec, candidates);
        if (reason !== entry.reason) {
          entry.reason = reason;
          // A replica without agents knows nothing of why: the replicas with agents say it, in the
          // step's row too, which every replica's /queue and waiting reason read.
          if (!this.opts.shared || this.sessions.size > 0)
            this.listener.waiting(entry.stepRunId, entry.buildId, reason);
          if (this.opts.shared && this.sessions.size > 0)
            await this.store.replicaDispatch.waiting(entry.stepRunId, reason);
        }
        i++;
        continue;
      }
      this.queue.splice(i, 1);
      await this.assign(entry, choice);
      free--;
    }
    this.metrics.queueDepth.set(this.queue.length);
  }

  private candidates(entry: QueueEntry): Candidate[] {
    const out: Candidate[] = [];
    for (const agent of this.sessions.values()) {
      if (agent.draining || !this.welcomed.has(agent) || !agentMayRun(agent, entry.spec)) continue;
      for (const pool of agent.pools) {
        if (poolAccepts(pool, entry.spec))
          out.push({ agent, pool, inUse: this.inUse(agent.agentName, pool.name) });
      }
    }
    return out;
  }

  /**
   * Hands the step to the agent: the lease and the events that say so are stored in one transaction,
   * and the Assign goes out as soon as it has committed (the lease is in the store before the agent
   * can act on it, so a hub restart finds it).
   */
  private async assign(entry: QueueEntry, choice: Candidate): Promise<void> {
    const { agent, pool } = choice;
    const leaseId = newLeaseId();
    const claim = { leaseId, agentName: agent.agentName, pool: pool.name };
    const selected = await this.listener.selected(
      { stepRunId: entry.stepRunId, buildId: entry.buildId },
      agent.agentName,
      pool,
      entry.spec,
    );
    const ok =
      this.holder === undefined
        ? await this.store.updateStepRun(
            entry.stepRunId,
            null,
            { status: 'assigned', ...claim },
            undefined,
            selected,
            DEFER,
          )
        : (await this.store.replicaDispatch.claim(entry.stepRunId, { ...claim, holder: this.holder })) &&
          // The claim is the replicas' own statement: the events follow it, under the lease's fence.
          (await this.update(entry.stepRunId, leaseId, {}, selected));
    if (!ok) return; // aborted or already assigned elsewhere
    this.leased(entry, choice, leaseId);
  }

  /**
   * The lease is written: the Assign goes out once that is committed (its write may share a commit
   * with others of this turn; the session holds it until then), and the lease's deadline starts.
   */
  private leased(entry: QueueEntry, { agent, pool }: Candidate, leaseId: string): void {
    agent.assign({
      leaseId,
      pool: pool.name,
      planId: entry.planId,
      context: entry.context,
      spec: entry.spec,
      acceptWithinMs: this.opts.acceptWithinMs,
    });
    const lease: Lease = {
      leaseId,
      entry,
      stepRunId: entry.stepRunId,
      buildId: entry.buildId,
      agentName: agent.agentName,
      pool: pool.name,
      state: { kind: 'offered' },
      conn: agent,
      timer: undefined,
      processStarted: false,
    };
    this.addLease(lease);
    this.arm(lease);
    this.metrics.dispatchLatency.observe((this.now() - entry.readyAt) / 1000);
  }
}

/** A queue entry for a pending step run read from the store. */
function entryOf(run: StepRun, readyAt: number): QueueEntry | undefined {
  const stored = run.spec as StoredDispatchSpec | undefined;
  if (!stored) return undefined;
  return {
    stepRunId: run.id,
    buildId: run.buildId,
    planId: run.planId,
    spec: stored.spec,
    context: { ...stored.context, stepRunId: run.id },
    readyAt,
    reason: undefined,
    rejectedBy: new Map(),
    preferAgent: undefined,
  };
}

function poolKey(agentName: string, pool: string): string {
  return `${agentName}\u0000${pool}`;
}
