// One agent session: the hub's side of a Connect stream. It converts wire messages to dispatcher and
// engine calls (the only place that does), persists logs before acknowledging them, and watches the
// agent's heartbeats. Messages of one session are handled one at a time, in order; the stream is read
// apart from that (inbox.ts), so a slow message does not keep the hub from hearing the agent's heartbeats.

import { randomUUID } from 'node:crypto';
import { status as GrpcStatus, type ServerDuplexStream } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import {
  ProtocolVersion,
  LeaseDecision,
  type AgentMessage,
  type Finished,
  type Hello,
  type HubMessage,
  type LogChunk,
  type ResourceAction as WireResourceAction,
} from '../../proto/gen/outpost/v1/agent.js';
import {
  platformFromWire,
  verdictFromWire,
  platformToWire,
  resourceActionToWire,
  statusFromWire,
  streamFromWire,
} from '../../common/wire-enums.js';
import type { Dispatcher } from '../dispatch/dispatcher.js';
import {
  type AgentConnection,
  type Assignment,
  type InterceptOrder,
  LEGACY_BUILTIN_TYPES,
  type PoolInfo,
  type ResourceAction,
} from '../dispatch/types.js';
import type { Engine } from '../engine/engine.js';
import { EVENT_VERSIONS, eventTime, type BuildEvents } from '../events/build-events.js';
import type { LogWriter } from '../events/log-writer.js';
import { logPayloadBytes } from '../log-text/log-payload.js';
import { expiredReason, hasExpired } from '../auth/tokens.js';
import type { HubMetrics } from '../metrics.js';
import { AfterCommit } from '../store/after-commit.js';
import type { LogAppendResult, Store, TokenRecord } from '../store/store.js';
import { boundsViolation } from './agent-bounds.js';
import type { HeartbeatTouches } from './heartbeat-touches.js';
import { Inbox } from './inbox.js';
import { outputsMismatch } from './output-check.js';

export interface SessionLimits {
  maxMessageBytes: number;
  maxLogChunkBytes: number;
  logWindowBytes: number;
  maxArtifactBytes: number;
}

export interface SessionDeps {
  store: Store;
  dispatcher: Dispatcher;
  engine: Engine;
  events: BuildEvents;
  /** Where log chunks go: batched with every other session's (group commit). */
  logs: LogWriter;
  /**
   * Log bytes one session may have queued for the store and not yet acknowledged. Past it the session
   * stops reading its stream until its writes commit, so an agent spraying logs is slowed to what the
   * store takes and cannot crowd out the others.
   */
  maxSessionLogBytes: number;
  metrics: HubMetrics;
  log: Logger;
  heartbeatMs: number;
  leaseGraceMs: number;
  helloTimeoutMs: number;
  /**
   * How long the hub may take to handle one of an agent's messages (a store that hangs, a lock never
   * released). Past it the session ends UNAVAILABLE: the agent reconnects and sends it again.
   */
  messageTimeoutMs: number;
  limits: SessionLimits;
  now: () => number;
  /** Replicas: this replica's API URL for the others (recorded with the agent); undefined: a single hub. */
  replicaUrl: () => string | undefined;
  /** Where a live session records that its agent was heard from (one store write for every agent). */
  touches: HeartbeatTouches;
}

interface LeaseCache {
  stepRunId: number;
  buildId: number;
  planId: string;
  logSeq: number;
}

type Call = ServerDuplexStream<AgentMessage, HubMessage>;

/** An agent's name and its cluster's (agent config `name`, `cluster`): no "/", which joins them. */
const AGENT_NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$/;

/** Messages read and waiting to be handled, per session, before the hub stops reading its stream. */
const INBOX_CAPACITY = 16;
/**
 * Revoked leases a session remembers, to answer late messages naming one only once. A session lives as
 * long as its agent's connection (weeks), so the oldest are forgotten: one of those named again is told
 * again, which the agent ignores.
 */
export const REVOKED_KEPT = 1024;

/**
 * The agent's identity at the hub: its name within its cluster. A Helm release names each agent after
 * its pod (`outpost-agent-0`) in every cluster, so two clusters on one hub differ only by `cluster`;
 * keyed by the name alone, each session would replace the other's.
 */
export function agentIdentity(cluster: string, name: string): string {
  return `${cluster}/${name}`;
}

export class GatewayError extends Error {
  constructor(
    readonly code: GrpcStatus,
    message: string,
  ) {
    super(message);
  }
}

export class AgentSession implements AgentConnection {
  readonly sessionId = randomUUID();
  agentName = '';
  cluster = '';
  pools: PoolInfo[] = [];
  draining = false;
  private readonly leases = new Map<string, LeaseCache>();
  private readonly revoked = new Set<string>();
  private lastSeen: number;
  /** When the heartbeat timer last ran: a tick far later than its interval means the hub stalled. */
  private lastTick = 0;
  private heartbeatSeq = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /**
   * What the hub sends the agent, each message once the writes made before it are committed: an agent
   * is never told of a lease, a result or a decision a crash would then take back.
   */
  private readonly out: AfterCommit<HubMessage>;
  /** Made on first use after the Hello: most sessions of an idle fleet never log after connecting. */
  private agentLog: Logger | undefined;
  /** Log bytes handed to the LogWriter and not yet committed. */
  private logBytesInFlight = 0;
  /** Settles after the latest log chunk handed to the LogWriter (writes settle in order). */
  private lastLogWrite: Promise<void> = Promise.resolve();
  /** Highest seq to acknowledge per lease, sent once the current batch's results are in. */
  private readonly acksDue = new Map<string, number>();
  /** The stream, read apart from handling; set once the Welcome is sent. */
  private inbox: Inbox<AgentMessage> | undefined;
  /** When the message being handled was taken up (undefined: none is). */
  private handlingSince: number | undefined;
  private handling: AgentMessage['msg'];
  /** Rejects when handling one message overran messageTimeoutMs: the session ends without waiting for it. */
  private readonly overrun: Promise<never>;
  private rejectOverrun!: (err: GatewayError) => void;

  constructor(
    private readonly call: Call,
    private readonly token: TokenRecord,
    readonly teamName: string | null,
    private readonly deps: SessionDeps,
    /**
     * Called once the Hello is accepted, before the dispatcher sees the session; throws a GatewayError
     * to refuse the session (its identity is held by another token).
     */
    private readonly onIdentified: (session: AgentSession) => void,
  ) {
    this.lastSeen = deps.now();
    // A call the agent or an error ended takes no more writes; what it missed, it asks for again.
    this.out = new AfterCommit(deps.store, (message) => {
      if (!call.destroyed && !call.writableEnded) call.write(message);
    });
    this.overrun = new Promise<never>((_, reject) => (this.rejectOverrun = reject));
    this.overrun.catch(() => undefined); // raced by the handling loop; nobody else waits on it
  }

  /** The hub's logger, with the agent and session named once the Hello told who it is. */
  private get log(): Logger {
    if (!this.agentName) return this.deps.log;
    return (this.agentLog ??= this.deps.log.child({ agent: this.agentName, session: this.sessionId }));
  }

  /** Runs the session to its end. Never rejects: failures end the stream with a status. */
  async run(): Promise<void> {
    let attached = false;
    try {
      const iterator = (this.call as AsyncIterable<AgentMessage>)[Symbol.asyncIterator]();
      const hello = await this.readHello(iterator);
      await this.handshake(hello);
      attached = true;
      // From the Welcome on the hub reads the stream and heartbeats: the agent's silence counts from here.
      // Counted from its Hello, or with the stream unread until the dispatcher put the session online, a
      // handshake slowed by a busy store (a loaded host, the leases a hub restart left) ended the session
      // at its first heartbeat check; the agent reconnected and resent its log, and its build never moved.
      this.startHeartbeats();
      // Assignments may come from now on; the agent's messages queue behind this on the dispatcher.
      this.deps.dispatcher.online(this).catch(() => undefined); // logged by the dispatcher
      const inbox = (this.inbox = new Inbox(iterator, INBOX_CAPACITY, (message) => {
        this.lastSeen = this.deps.now();
        const kind = message.msg?.$case;
        return kind !== undefined && kind !== 'heartbeat' && kind !== 'hello';
      }));
      for (;;) {
        const message = await inbox.next();
        if (message === undefined) break;
        this.handlingSince = this.deps.now();
        this.handling = message.msg;
        await Promise.race([this.handle(message), this.overrun]);
        this.handlingSince = undefined;
      }
      this.log.info('agent closed its session');
    } catch (err) {
      if (err instanceof GatewayError) {
        this.log.warn({ code: GrpcStatus[err.code], reason: err.message }, 'agent session refused');
        this.fail(err.code, err.message);
      } else if ((err as { code?: unknown }).code === GrpcStatus.RESOURCE_EXHAUSTED) {
        // grpc-js refused a message over grpc.max_receive_message_length and ended the call with the reason.
        this.deps.metrics.messagesRejected.inc({ reason: 'message_too_large' });
        this.log.warn({ reason: (err as Error).message }, 'agent message over the size limit; session ended');
      } else if (!this.closed) {
        this.log.info({ err: (err as Error).message }, 'agent session ended');
      }
    } finally {
      this.closed = true;
      clearInterval(this.timer);
      this.inbox?.close();
      if (attached && (await this.deps.dispatcher.detach(this))) {
        await this.deps.store.setAgentState(this.agentName, 'disconnected', this.deps.now(), this.sessionId);
      }
      this.out.whenSent(() => this.call.end());
    }
  }

  /** The agent token this session authenticated with. */
  get tokenId(): number {
    return this.token.id;
  }

  /** False once the session ended or is ending: its agent name is free again. */
  get live(): boolean {
    return !this.closed;
  }

  /** Ends the session with an error status, as for a token the hub no longer accepts. */
  end(code: GrpcStatus, reason: string): void {
    if (this.closed) return;
    this.log.warn({ code: GrpcStatus[code], reason }, 'agent session ended by the hub');
    this.fail(code, reason);
  }

  /** Ends the session from the hub's side (a newer session of the same agent, or shutdown). */
  close(reason: string): void {
    if (this.closed) return;
    this.send({ msg: { $case: 'goAway', value: { reason } } });
    this.closed = true;
    this.out.whenSent(() => this.call.end());
  }

  assign(a: Assignment): void {
    // A fresh lease has no log stored yet (logs need the lease accepted): its first message needs no
    // read of the step run.
    this.leases.set(a.leaseId, {
      stepRunId: a.context.stepRunId,
      buildId: a.context.buildId,
      planId: a.planId,
      logSeq: 0,
    });
    this.send({
      msg: {
        $case: 'assign',
        value: {
          leaseId: a.leaseId,
          acceptWithinMs: a.acceptWithinMs,
          context: { ...a.context, cacheGeneration: a.context.cacheGeneration ?? 0 },
          spec: {
            pool: a.pool,
            platform: platformToWire(a.spec.platform),
            run: { ...a.spec.run },
            env: [
              ...Object.entries(a.spec.env).map(([name, value]) => ({ name, value, secret: undefined })),
              ...(a.spec.secretEnv ?? []).map((e) => ({
                name: e.name,
                value: '',
                secret: { source: e.source, name: e.secret, key: e.key },
              })),
            ],
            inputs: a.spec.inputs.map((i) => ({ ...i, artifactDigest: i.artifactDigest ?? '' })),
            redact: a.spec.redact,
            cachePaths: a.spec.cachePaths,
            outputs: a.spec.outputs.map((o) => ({ ...o })),
            image: a.spec.image
              ? {
                  ...a.spec.image,
                  username: a.spec.image.username ?? '',
                  password: a.spec.image.password ?? '',
                  artifactDigest: a.spec.image.artifactDigest ?? '',
                }
              : undefined,
            privileged: a.spec.privileged,
            timeoutMs: a.spec.timeoutMs,
            memoryLimitBytes: a.spec.memoryLimitBytes,
            cpuShares: a.spec.cpuShares,
            resource: a.spec.resource ? resourceToWire(a.spec.resource) : undefined,
          },
        },
      },
    });
  }

  abort(leaseId: string, graceMs: number, reason: string): void {
    this.send({ msg: { $case: 'abort', value: { leaseId, graceMs, reason } } });
  }

  intercept(order: InterceptOrder): void {
    const { tunnelId, leaseId, command, tty, rows, cols } = order;
    this.send({
      msg: { $case: 'intercept', value: { tunnelId, leaseId, command, tty, size: { rows, cols } } },
    });
  }

  buildEnded(buildId: number, failed: boolean): void {
    this.send({ msg: { $case: 'buildEnded', value: { buildId, failed } } });
  }

  caughtUp(): Promise<void> {
    return this.inbox?.caughtUp() ?? Promise.resolve();
  }

  /** Tells the agent the hub no longer honours the lease; later messages naming it are dropped unanswered. */
  revoke(leaseId: string, reason: string): void {
    this.leases.delete(leaseId);
    // Once per lease: an Accept, log chunk or Started the agent sent before it read this gets no second one.
    this.revoked.add(leaseId);
    if (this.revoked.size > REVOKED_KEPT) {
      const [oldest] = this.revoked;
      if (oldest !== undefined) this.revoked.delete(oldest);
    }
    this.send({ msg: { $case: 'leaseRevoked', value: { leaseId, reason } } });
  }

  private send(message: HubMessage): void {
    if (!this.closed) this.out.send(message);
  }

  private fail(code: GrpcStatus, details: string): void {
    this.closed = true;
    this.call.emit('error', { code, details });
  }

  private async readHello(iterator: AsyncIterator<AgentMessage>): Promise<Hello> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(
          new GatewayError(GrpcStatus.DEADLINE_EXCEEDED, `no Hello within ${this.deps.helloTimeoutMs} ms`),
        );
      }, this.deps.helloTimeoutMs);
    });
    try {
      const first = await Promise.race([iterator.next(), timeout]);
      if (first.done) throw new GatewayError(GrpcStatus.CANCELLED, 'stream closed before Hello');
      if (first.value.msg?.$case !== 'hello') {
        throw new GatewayError(GrpcStatus.INVALID_ARGUMENT, 'the first message must be Hello');
      }
      return first.value.msg.value;
    } finally {
      clearTimeout(timer);
    }
  }

  private async handshake(hello: Hello): Promise<void> {
    if (hello.protocolVersion !== ProtocolVersion.PROTOCOL_VERSION_1) {
      throw new GatewayError(
        GrpcStatus.FAILED_PRECONDITION,
        `unsupported protocol version ${hello.protocolVersion}; this hub speaks ${ProtocolVersion.PROTOCOL_VERSION_1}`,
      );
    }
    if (!AGENT_NAME.test(hello.agentName)) {
      throw new GatewayError(GrpcStatus.INVALID_ARGUMENT, `invalid agent name "${hello.agentName}"`);
    }
    if (!AGENT_NAME.test(hello.cluster)) {
      throw new GatewayError(GrpcStatus.INVALID_ARGUMENT, `invalid cluster "${hello.cluster}"`);
    }
    const pools: PoolInfo[] = [];
    for (const pool of hello.pools) {
      // Slots, routing and bounds are all by pool name: one name, one pool.
      if (pool.name === '') throw new GatewayError(GrpcStatus.INVALID_ARGUMENT, 'a pool has no name');
      if (pools.some((p) => p.name === pool.name))
        throw new GatewayError(GrpcStatus.INVALID_ARGUMENT, `pool "${pool.name}" is offered twice`);
      const platform = platformFromWire(pool.platform);
      if (!platform)
        throw new GatewayError(GrpcStatus.INVALID_ARGUMENT, `pool "${pool.name}" has no platform`);
      if (pool.capacity < 1)
        throw new GatewayError(GrpcStatus.INVALID_ARGUMENT, `pool "${pool.name}" has capacity 0`);
      const verdict = pool.admission && verdictFromWire(pool.admission.verdict);
      pools.push({
        name: pool.name,
        platform,
        tags: [...pool.tags],
        executor: pool.executor,
        capacity: pool.capacity,
        ...(verdict ? { admission: { verdict, message: pool.admission?.message ?? '' } } : {}),
        ...(pool.taskImages ? { taskImages: true } : {}),
        // Agents from before the field ran exactly these.
        builtinTypes: pool.builtinTypes.length > 0 ? [...pool.builtinTypes] : [...LEGACY_BUILTIN_TYPES],
      });
    }
    if (pools.length === 0) throw new GatewayError(GrpcStatus.INVALID_ARGUMENT, 'the agent offers no pools');
    const identity = agentIdentity(hello.cluster, hello.agentName);
    // The token fixes who the agent is and what it offers; a Hello claiming more is refused, not trimmed.
    const violation = boundsViolation(this.token.name, this.token.bounds, identity, pools);
    if (violation) {
      this.deps.metrics.agentRefusals.inc({ reason: violation.field });
      throw new GatewayError(GrpcStatus.PERMISSION_DENIED, violation.message);
    }
    this.agentName = identity;
    this.cluster = hello.cluster;
    this.pools = pools;
    this.onIdentified(this);

    const now = this.deps.now();
    await this.deps.store.upsertAgent({
      name: this.agentName,
      cluster: this.cluster,
      version: hello.agentVersion,
      pools,
      state: 'connected',
      tokenId: this.token.id,
      connectedAt: now,
      lastHeartbeatAt: now,
      sessionId: this.sessionId,
      replicaUrl: this.deps.replicaUrl() ?? null,
    });
    const decisions = await this.deps.dispatcher.attach(this, hello.held);
    this.deps.metrics.sessionsTotal.inc();
    this.send({
      msg: {
        $case: 'welcome',
        value: {
          sessionId: this.sessionId,
          heartbeatIntervalMs: this.deps.heartbeatMs,
          leaseGraceMs: this.deps.leaseGraceMs,
          limits: { ...this.deps.limits },
          held: decisions.map((d) =>
            d.resume
              ? {
                  leaseId: d.leaseId,
                  decision: LeaseDecision.LEASE_DECISION_RESUME,
                  ackedLogSeq: d.ackedLogSeq,
                  reason: '',
                }
              : {
                  leaseId: d.leaseId,
                  decision: LeaseDecision.LEASE_DECISION_DROP,
                  ackedLogSeq: 0,
                  reason: d.reason,
                },
          ),
        },
      },
    });
    this.deps.log.info(
      {
        agent: this.agentName,
        session: this.sessionId,
        cluster: this.cluster,
        pools: pools.map((p) => p.name),
        resumed: decisions.filter((d) => d.resume).length,
      },
      'agent connected',
    );
    // A result the agent held through the reconnect is replayed by the agent itself after Welcome.
  }

  private startHeartbeats(): void {
    this.lastSeen = this.deps.now();
    this.lastTick = this.lastSeen;
    this.timer = setInterval(() => {
      const now = this.deps.now();
      // A tick this late means the hub itself stalled (a loaded host, a long GC, a busy event loop): what
      // the agent sent meanwhile is still unread in the socket, not missing, so it is judged at the next
      // tick, once the reads have run. (Judged now, one stall ended every session at once.)
      const late = now - this.lastTick > this.deps.heartbeatMs * 2;
      this.lastTick = now;
      // Not reading because the hub is behind with this agent's messages: its silence is the hub's.
      if (this.inbox?.paused) this.lastSeen = now;
      // A token that expires while its session is live ends it, as a revocation does.
      if (hasExpired(this.token, now)) {
        this.deps.metrics.agentRefusals.inc({ reason: 'expired' });
        this.end(GrpcStatus.UNAUTHENTICATED, expiredReason(this.token));
        return;
      }
      if (
        !late &&
        this.handlingSince !== undefined &&
        now - this.handlingSince > this.deps.messageTimeoutMs
      ) {
        this.deps.metrics.messagesRejected.inc({ reason: 'handling_timeout' });
        this.rejectOverrun(
          new GatewayError(
            GrpcStatus.UNAVAILABLE,
            `the hub took over ${this.deps.messageTimeoutMs} ms to handle a ${this.handling?.$case ?? 'message'} ` +
              'message of this session; reconnect and send it again',
          ),
        );
        return;
      }
      if (!late && now - this.lastSeen > this.deps.heartbeatMs * 3) {
        this.log.warn({ silentMs: now - this.lastSeen }, 'agent missed heartbeats; ending its session');
        this.fail(GrpcStatus.UNAVAILABLE, 'missed heartbeats');
        return;
      }
      this.send({ msg: { $case: 'heartbeat', value: { seq: ++this.heartbeatSeq, sentAtUnixMs: now } } });
      this.deps.touches.touch(this.agentName);
    }, this.deps.heartbeatMs);
    this.timer.unref();
  }

  private async handle(message: AgentMessage): Promise<void> {
    const msg = message.msg;
    if (!msg) return;
    if (msg.$case === 'log') {
      await this.onLog(msg.value);
      return;
    }
    if (msg.$case === 'heartbeat' || msg.$case === 'hello') return;
    // Everything else sees the logs sent before it as stored (a result needs its whole log).
    await this.lastLogWrite;
    switch (msg.$case) {
      case 'accepted': {
        const check = await this.deps.dispatcher.accepted(this, msg.value.leaseId);
        if (!check.ok) this.refuse(msg.value.leaseId, check.reason);
        return;
      }
      case 'rejected':
        await this.deps.dispatcher.rejected(this, msg.value.leaseId, msg.value.reason);
        this.leases.delete(msg.value.leaseId);
        return;
      case 'started': {
        const lease = await this.lease(msg.value.leaseId);
        if (!lease) return;
        this.deps.dispatcher.processStarted(msg.value.leaseId);
        await this.deps.engine.stepStarted(lease.stepRunId, lease.buildId, msg.value.leaseId);
        return;
      }
      case 'finished':
        await this.onFinished(msg.value);
        return;
      case 'draining':
        this.draining = true;
        this.log.info({ reason: msg.value.reason }, 'agent is draining');
        await this.deps.store.setAgentState(this.agentName, 'draining', this.deps.now(), this.sessionId);
        await this.deps.dispatcher.draining();
        return;
    }
  }

  /** The lease's cached facts, or undefined (and a LeaseRevoked sent) when it is not current. */
  private async lease(leaseId: string): Promise<LeaseCache | undefined> {
    const check = this.deps.dispatcher.check(this, leaseId);
    if (!check.ok) {
      this.refuse(leaseId, check.reason);
      return undefined;
    }
    let cache = this.leases.get(leaseId);
    if (!cache) {
      const run = await this.deps.store.getStepRun(check.stepRunId);
      if (!run) return undefined;
      cache = { stepRunId: run.id, buildId: run.buildId, planId: run.planId, logSeq: run.logSeq };
      this.leases.set(leaseId, cache);
    }
    return cache;
  }

  /** Tells the agent once per lease that the hub no longer honours it. */
  private refuse(leaseId: string, reason: string): void {
    this.deps.metrics.staleMessages.inc();
    if (this.revoked.has(leaseId)) return;
    this.log.info({ leaseId, reason }, 'message for a stale lease refused');
    this.revoke(leaseId, reason);
  }

  /**
   * Hands the chunk to the LogWriter and returns without waiting for the store, unless this session
   * already has its budget of bytes in flight: then it waits, and stops reading its stream meanwhile.
   */
  private async onLog(chunk: LogChunk): Promise<void> {
    const lease = await this.lease(chunk.leaseId);
    if (!lease) return;
    if (chunk.data.length > this.deps.limits.maxLogChunkBytes) {
      this.deps.metrics.messagesRejected.inc({ reason: 'log_chunk_too_large' });
      throw new GatewayError(
        GrpcStatus.RESOURCE_EXHAUSTED,
        `log chunk of ${chunk.data.length} bytes exceeds the limit of ${this.deps.limits.maxLogChunkBytes}`,
      );
    }
    const source = streamFromWire(chunk.stream) === 'stderr' ? 'stderr' : 'stdout';
    const bytes = chunk.data.length;
    this.logBytesInFlight += bytes;
    const write = this.deps.logs
      .append({
        stepRunId: lease.stepRunId,
        seq: chunk.seq,
        bytes,
        event: {
          type: 'log',
          version: EVENT_VERSIONS.log,
          // The payload goes beside the data as bytes (hub/log-text/log-payload.ts), never decoded here.
          data: { origin: { id: lease.planId, source }, time: eventTime(chunk.atUnixMs) },
        },
        payload: logPayloadBytes(chunk.data),
        at: this.deps.now(),
      })
      .then(
        (result) => this.logStored(chunk, lease, result),
        (err: unknown) => {
          // Not acknowledged: the agent resends it on its next session.
          this.log.error({ err, leaseId: chunk.leaseId, seq: chunk.seq }, 'could not store a log chunk');
          if (!this.closed)
            this.fail(GrpcStatus.UNAVAILABLE, 'the hub could not store a log chunk; reconnect and resend');
        },
      )
      .finally(() => (this.logBytesInFlight -= bytes));
    this.lastLogWrite = write;
    if (this.logBytesInFlight > this.deps.maxSessionLogBytes) {
      this.deps.metrics.logThrottled.inc();
      await write;
    }
  }

  private logStored(chunk: LogChunk, lease: LeaseCache, result: LogAppendResult): void {
    if (result.kind === 'stored' || result.kind === 'truncated') {
      lease.logSeq = chunk.seq;
      if (result.kind === 'stored') this.deps.metrics.logChunks.inc();
    } else if (result.kind === 'duplicate') {
      this.deps.metrics.logDuplicates.inc();
    } else {
      lease.logSeq = result.logSeq;
      this.log.warn(
        { leaseId: chunk.leaseId, seq: chunk.seq, stored: result.logSeq },
        'log gap; waiting for a resend',
      );
    }
    // One LogAck per lease per batch: the results of a batch arrive together.
    if (this.acksDue.size === 0) queueMicrotask(() => this.sendAcks());
    this.acksDue.set(chunk.leaseId, lease.logSeq);
  }

  private sendAcks(): void {
    for (const [leaseId, seq] of this.acksDue)
      this.send({ msg: { $case: 'logAck', value: { leaseId, seq } } });
    this.acksDue.clear();
  }

  private async onFinished(finished: Finished): Promise<void> {
    const { leaseId } = finished;
    const status = statusFromWire(finished.status);
    if (!status) throw new GatewayError(GrpcStatus.INVALID_ARGUMENT, `Finished for ${leaseId} has no status`);
    const check = this.deps.dispatcher.check(this, leaseId);
    if (!check.ok) {
      // Recorded before (the ack was lost): acknowledge again so the agent can forget it. Only to the
      // agent that ran it: to any other, an ack would confirm another agent's lease and its result.
      const run = await this.deps.store.getStepRunByLease(leaseId);
      if (run && run.status === status && run.agentName === this.agentName) {
        this.deps.metrics.resultResends.inc();
        this.send({ msg: { $case: 'finishedAck', value: { leaseId } } });
      } else this.refuse(leaseId, check.reason);
      return;
    }
    const lease = await this.lease(leaseId);
    if (!lease) return;
    if (finished.lastLogSeq > lease.logSeq) {
      // Every log line is stored before the result, so the log is complete when the build ends.
      this.log.warn(
        { leaseId, lastLogSeq: finished.lastLogSeq, stored: lease.logSeq },
        'result before its logs; not acknowledged',
      );
      return;
    }
    const outputs = finished.outputs.map((o) => ({ name: o.name, digest: o.digest, size: o.size }));
    // No outputs, nothing to compare: most steps end without a read of the lease's uploads.
    const mismatch =
      outputs.length === 0
        ? undefined
        : outputsMismatch(outputs, await this.deps.store.uploads.ofLease(leaseId));
    if (mismatch) {
      this.deps.metrics.agentRefusals.inc({ reason: 'output_digest' });
      this.log.warn({ leaseId, reason: mismatch }, 'step outputs differ from its uploads; the step errors');
    }
    const result = await this.deps.dispatcher.finished(
      this,
      leaseId,
      mismatch
        ? // Outputs the hub did not receive are never handed on: the step errors (infrastructure, not the step's fault).
          {
            status: 'errored',
            exitStatus: null,
            error: `the agent's result does not match its uploads: ${mismatch}`,
            outputs: [],
          }
        : {
            status,
            // An exit status only means something for a process that ran to its end on its own.
            exitStatus:
              (status === 'succeeded' || status === 'failed') && !finished.error ? finished.exitStatus : null,
            error: finished.error || null,
            outputs,
            ...resourceResultOf(finished.resourceResultJson),
          },
    );
    if (result.ok) {
      this.leases.delete(leaseId);
      this.send({ msg: { $case: 'finishedAck', value: { leaseId } } });
    } else {
      this.refuse(leaseId, result.reason);
    }
  }
}

function resourceToWire(action: ResourceAction): WireResourceAction {
  return {
    kind: resourceActionToWire(action.kind),
    type: action.type,
    builtin: action.builtin,
    sourceJson: JSON.stringify(action.source),
    paramsJson: JSON.stringify(action.params),
    versionJson: action.version ? JSON.stringify(action.version) : '',
  };
}

/** A resource step's response; the agent checked it is JSON, so a parse failure is kept as text. */
function resourceResultOf(json: string): { resourceResult?: unknown } {
  if (!json) return {};
  try {
    return { resourceResult: JSON.parse(json) as unknown };
  } catch {
    return { resourceResult: json };
  }
}
