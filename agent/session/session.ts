// The agent's side of the Connect stream: dials out, says Hello with the steps it holds, follows the
// hub's heartbeats, and reconnects with exponential backoff and full jitter when anything breaks.
// Steps live in the StepRunner and survive every reconnect.

import { EventEmitter } from 'node:events';
import type { ClientDuplexStream } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import {
  ProtocolVersion,
  type AgentGatewayClient,
  type AgentMessage,
  type HubMessage,
  type Pool,
} from '../../proto/gen/outpost/v1/agent.js';
import type { AgentMetrics } from '../metrics.js';
import { runIntercept } from '../intercept/tunnel.js';
import type { StepRunner } from '../runner.js';
import { Backoff } from './backoff.js';
import type { HubCallMetadata } from './call-metadata.js';
import { DEFAULT_LEASE_GRACE_MS } from './outages.js';
import type { Outbox } from './held-step.js';
import { HubError, HubMessageTooLargeError, HubRejectedTokenError, hubErrorOf } from './hub-errors.js';
import type { HubTarget } from './hub-target.js';

export interface SessionOptions {
  /** The token, and the session id side calls name once welcomed. */
  calls: HubCallMetadata;
  agentName: string;
  agentVersion: string;
  cluster: string;
  pools: Pool[];
  /** What the agent dials, named in connection errors. */
  hub: HubTarget;
}

type Call = ClientDuplexStream<AgentMessage, HubMessage>;

export class HubSession {
  /** Emits 'failure' (Error) whenever a session attempt ends with an error. */
  readonly events = new EventEmitter();
  // Capped at 10 s: after a hub restart every agent is back within seconds (full jitter spreads them).
  private readonly backoff = new Backoff({ initialMs: 200, maxMs: 10_000 });
  // A rejected token stays rejected until someone makes a new one: retry in minutes, not seconds, so the
  // log shows one clear line per attempt and the hub is not asked to check a dead token every second.
  private readonly rejectedBackoff = new Backoff({ initialMs: 2 * 60_000, maxMs: 10 * 60_000, floor: 0.5 });
  private call: Call | undefined;
  private stopped = false;
  private draining = false;
  private wakeBackoff: (() => void) | undefined;
  private attempts = 0;
  private welcomedOnce: (() => void) | undefined;
  /**
   * When each lease's Assign arrived, until its step starts (the agent's dispatch latency). Kept across
   * sessions: a step assigned on one session may start after the next one's Welcome.
   */
  private readonly assignedAt = new Map<string, number>();
  /** Resolves after the first Welcome (tests and the quickstart wait for it). */
  readonly welcomed: Promise<void>;

  constructor(
    private readonly client: AgentGatewayClient,
    private readonly opts: SessionOptions,
    private readonly runner: StepRunner,
    private readonly metrics: AgentMetrics,
    private readonly log: Logger,
  ) {
    this.welcomed = new Promise((resolve) => (this.welcomedOnce = resolve));
  }

  /** Runs sessions until stop(). */
  async run(): Promise<void> {
    while (!this.stopped) {
      if (this.attempts++ > 0) this.metrics.reconnects.inc();
      let failure: Error | undefined;
      const welcomed = await this.connectOnce().catch((err: unknown) => {
        failure = hubErrorOf(err, this.opts.hub);
        this.events.emit('failure', failure);
        return false;
      });
      this.metrics.connected.set(0);
      this.runner.detach();
      if (this.isStopped()) break;
      if (welcomed) {
        this.backoff.reset();
        this.rejectedBackoff.reset();
      }
      const delay = this.nextDelay(failure);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wakeBackoff = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Logs why the session ended (one line) and returns how long to wait before the next attempt. */
  private nextDelay(failure: Error | undefined): number {
    if (failure instanceof HubRejectedTokenError) {
      const delay = this.rejectedBackoff.next();
      this.log.error(
        { code: failure.code, delayMs: delay },
        `${failure.message}; retrying in ${humanDelay(delay)}; ` +
          'create a new one with `outpost agent-tokens create` and put it in token_file',
      );
      return delay;
    }
    const delay = this.backoff.next();
    if (failure)
      this.log.warn(
        { code: failure instanceof HubError ? failure.code : undefined, delayMs: delay },
        `cannot connect to the hub: ${failure.message}; retrying in ${humanDelay(delay)}`,
      );
    else this.log.info({ delayMs: delay }, 'session with the hub ended; reconnecting');
    return delay;
  }

  /** Takes no new work and tells the hub so. */
  drain(reason: string): void {
    this.draining = true;
    this.send({ msg: { $case: 'draining', value: { reason } } });
  }

  /** A method, not the field, so the loop re-reads it after each await. */
  private isStopped(): boolean {
    return this.stopped;
  }

  stop(): void {
    this.stopped = true;
    this.call?.cancel();
    this.wakeBackoff?.();
  }

  private send(message: AgentMessage): boolean {
    const call = this.call;
    if (!call || call.writableEnded) return false;
    return call.write(message);
  }

  /** One session; resolves with whether the hub welcomed it. */
  private connectOnce(): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      const call = this.client.connect(this.opts.calls.forConnect());
      this.call = call;
      let welcomed = false;
      let lastSeen = Date.now();
      let watchdog: NodeJS.Timeout | undefined;
      let heartbeat: NodeJS.Timeout | undefined;
      let heartbeatSeq = 0;

      const assignedAt = this.assignedAt;
      const outbox: Outbox = {
        sendLog: (chunk) => this.send({ msg: { $case: 'log', value: chunk } }),
        sendFinished: (finished) => {
          // A step that ended without starting (its inputs could not be fetched) has no latency.
          assignedAt.delete(finished.leaseId);
          this.send({ msg: { $case: 'finished', value: finished } });
        },
        sendAccepted: (leaseId) => void this.send({ msg: { $case: 'accepted', value: { leaseId } } }),
        sendStarted: (leaseId, at) => {
          const since = assignedAt.get(leaseId);
          assignedAt.delete(leaseId);
          if (since !== undefined) this.metrics.dispatchLatency.observe(Math.max(0, at - since) / 1000);
          this.send({ msg: { $case: 'started', value: { leaseId, atUnixMs: at } } });
        },
      };

      const finish = (err?: Error) => {
        clearInterval(heartbeat);
        clearInterval(watchdog);
        if (this.call === call) this.call = undefined;
        if (err && !welcomed) reject(err);
        else resolve(welcomed);
      };

      call.on('drain', () => this.runner.unblock());
      call.on('data', (message: HubMessage) => {
        lastSeen = Date.now();
        const msg = message.msg;
        if (!msg) return;
        switch (msg.$case) {
          case 'welcome': {
            welcomed = true;
            const w = msg.value;
            this.metrics.connected.set(1);
            this.log.info({ session: w.sessionId, resumed: w.held.length }, 'connected to the hub');
            // Before the runner resumes: the side calls it retries must name this session.
            this.opts.calls.welcomed(w.sessionId);
            this.runner.attach(outbox, w.held, {
              maxLogChunkBytes: w.limits?.maxLogChunkBytes ?? 64 * 1024,
              logWindowBytes: w.limits?.logWindowBytes ?? 4 * 1024 * 1024,
              maxArtifactBytes: w.limits?.maxArtifactBytes ?? 1024 * 1024 * 1024,
              leaseGraceMs: w.leaseGraceMs || DEFAULT_LEASE_GRACE_MS,
            });
            if (this.draining) this.drain('agent is draining');
            const interval = w.heartbeatIntervalMs || 5_000;
            heartbeat = setInterval(() => {
              this.send({
                msg: { $case: 'heartbeat', value: { seq: ++heartbeatSeq, sentAtUnixMs: Date.now() } },
              });
            }, interval);
            watchdog = setInterval(() => {
              if (Date.now() - lastSeen > interval * 3) {
                this.log.warn('hub missed heartbeats; reconnecting');
                call.cancel();
              }
            }, interval);
            this.welcomedOnce?.();
            return;
          }
          case 'assign': {
            assignedAt.set(msg.value.leaseId, Date.now());
            const reason = this.runner.assign(msg.value, outbox, this.draining);
            if (reason) {
              assignedAt.delete(msg.value.leaseId);
              this.metrics.assignmentsRejected.inc();
              this.log.info({ leaseId: msg.value.leaseId, reason }, 'assignment rejected');
              this.send({ msg: { $case: 'rejected', value: { leaseId: msg.value.leaseId, reason } } });
            }
            return;
          }
          case 'logAck':
            this.runner.onLogAck(msg.value.leaseId, msg.value.seq);
            return;
          case 'finishedAck':
            this.runner.onFinishedAck(msg.value.leaseId);
            return;
          case 'abort':
            this.log.info({ leaseId: msg.value.leaseId, reason: msg.value.reason }, 'abort requested');
            this.runner.abort(msg.value.leaseId, msg.value.graceMs, msg.value.reason);
            return;
          case 'leaseRevoked':
            assignedAt.delete(msg.value.leaseId);
            this.metrics.leasesRevoked.inc();
            this.runner.drop(msg.value.leaseId, msg.value.reason);
            return;
          case 'goAway':
            this.metrics.goAways.inc();
            this.log.info({ reason: msg.value.reason }, 'hub is going away');
            return;
          case 'heartbeat':
            return;
          case 'buildEnded':
            this.runner.buildEnded(msg.value.buildId, msg.value.failed);
            return;
          case 'intercept':
            runIntercept(
              this.client,
              this.opts.calls,
              msg.value,
              (lease, command, output) => this.runner.terminalOf(lease, command, output),
              this.log,
            );
            return;
        }
      });
      call.on('error', (err: Error & { code?: number }) => {
        this.metrics.sessionErrors.inc({ code: String(err.code ?? 'unknown') });
        const mapped = hubErrorOf(err, this.opts.hub);
        // The hub's reason for refusing a message goes in the agent's log even mid-session (after a Welcome
        // the session ends without a failure).
        if (mapped instanceof HubMessageTooLargeError) this.log.error({ code: mapped.code }, mapped.message);
        else if (welcomed)
          this.log.warn({ code: mapped instanceof HubError ? mapped.code : undefined }, mapped.message);
        finish(mapped);
      });
      call.on('end', () => finish());

      call.write({
        msg: {
          $case: 'hello',
          value: {
            protocolVersion: ProtocolVersion.PROTOCOL_VERSION_1,
            agentName: this.opts.agentName,
            agentVersion: this.opts.agentVersion,
            cluster: this.opts.cluster,
            pools: this.opts.pools,
            held: this.runner.heldSteps(),
          },
        },
      });
    });
  }
}

/** 90000 -> "1m30s", 2500 -> "3s", 150 -> "0.2s": for log lines a person reads. */
function humanDelay(ms: number): string {
  if (ms < 1000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
}
