// Riding out hub outages: what an agent owes the hub after a step (its output uploads; the input
// downloads it needs first) is retried across a hub restart or a broken connection instead of turning
// the step into `errored`. Log chunks and Finished ride out outages on their own (HeldStep resends them
// on every new session); the artifact calls go through deliver() below.
//
// While the agent has no welcomed session, a failed call waits for the next Welcome rather than
// spinning. While it has one, it backs off and retries for at most the lease grace the hub announced
// (Welcome.lease_grace_ms): a hub that keeps refusing for that long is reported with its real cause.

import { setTimeout as sleep } from 'node:timers/promises';
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { Backoff } from './backoff.js';

/** The hub's default lease grace (design §2), until a Welcome says otherwise. */
export const DEFAULT_LEASE_GRACE_MS = 120_000;

/** Whether the agent has a welcomed session with the hub now, and a way to wait for the next one. */
export class HubLink {
  private up = false;
  private readonly waiters = new Set<() => void>();

  get connected(): boolean {
    return this.up;
  }

  /** A session was welcomed (its held steps already resumed or dropped). */
  welcomed(): void {
    this.up = true;
    for (const wake of [...this.waiters]) wake();
  }

  lost(): void {
    this.up = false;
  }

  /** Resolves at the next Welcome, or as soon as `signal` aborts. */
  nextWelcome(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.waiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      if (signal.aborted) return resolve();
      this.waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

/** An artifact call the hub did not take within the lease grace, or that can never succeed. */
export class DeliveryError extends Error {
  readonly code = 'DELIVERY_FAILED';
}

export interface DeliveryContext {
  link: HubLink;
  /** The lease grace the hub announced. */
  graceMs: () => number;
  /** Aborted when waiting is pointless: the hub dropped the step, or the agent shuts down. */
  giveUp: AbortSignal;
  log: Logger;
  /** Called before each retry (a metric). */
  retrying?: () => void;
  now?: () => number;
}

/**
 * Runs `attempt` until it succeeds. A failure that another try may fix (the hub unreachable or
 * restarting, the lease not resumed yet) is retried: after the next Welcome when the session is down,
 * else after a backoff. Throws a DeliveryError naming `what` and the last cause when the failure is
 * permanent, when the hub kept failing it for the whole lease grace while connected, or on `giveUp`.
 */
export async function deliver<T>(what: string, attempt: () => Promise<T>, ctx: DeliveryContext): Promise<T> {
  const now = ctx.now ?? Date.now;
  const backoff = new Backoff({ initialMs: 200, maxMs: 5_000 });
  /** When the current run of failures began; a Welcome that resumed the step starts a new grace. */
  let failingSince: number | undefined;
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (err) {
      const cause = describe(err);
      if (!retryable(err)) throw new DeliveryError(`${what}: ${cause}`, { cause: err });
      if (ctx.giveUp.aborted) throw givenUp(what, cause, ctx.giveUp, err);
      failingSince ??= now();
      const graceMs = ctx.graceMs();
      if (now() - failingSince >= graceMs) {
        throw new DeliveryError(
          `${what}: still failing after the lease grace (${Math.round(graceMs / 1000)}s, ${tries} tries): ${cause}`,
          { cause: err },
        );
      }
      ctx.log.warn({ what, tries, cause, connected: ctx.link.connected }, 'hub call failed; retrying');
      ctx.retrying?.();
      // Connected: the hub answered, or its loss is not noticed yet, so try again soon. Down: wait for
      // the next Welcome, which resumed the step (else giveUp) and so starts a new grace.
      if (await waitForRetry(ctx, backoff)) {
        failingSince = undefined;
        backoff.reset();
      }
      if (aborted(ctx.giveUp)) throw givenUp(what, cause, ctx.giveUp, err);
    }
  }
}

/** Read through a call: the signal changes across awaits, which a narrowed field read would hide. */
function aborted(signal: AbortSignal): boolean {
  return signal.aborted;
}

/** Waits before the next try; true when a Welcome ended the wait. */
async function waitForRetry(ctx: DeliveryContext, backoff: Backoff): Promise<boolean> {
  if (!ctx.link.connected) {
    await ctx.link.nextWelcome(ctx.giveUp);
    return !ctx.giveUp.aborted;
  }
  const wait = new AbortController();
  const stop = () => wait.abort();
  ctx.giveUp.addEventListener('abort', stop, { once: true });
  try {
    return await Promise.race([
      sleep(backoff.next(), false, { signal: wait.signal }).catch(() => false),
      ctx.link.nextWelcome(wait.signal).then(() => !wait.signal.aborted),
    ]);
  } finally {
    wait.abort();
    ctx.giveUp.removeEventListener('abort', stop);
  }
}

function givenUp(what: string, cause: string, signal: AbortSignal, err: unknown): DeliveryError {
  const why = signal.reason instanceof Error ? signal.reason.message : String(signal.reason);
  return new DeliveryError(`${what}: gave up waiting for the hub (${why}); last error: ${cause}`, {
    cause: err,
  });
}

/**
 * Failures another try may fix: the hub unreachable, restarting or cut off mid-call (UNAVAILABLE,
 * CANCELLED, INTERNAL, UNKNOWN, DEADLINE_EXCEEDED, ABORTED), or a lease the restarted hub has not
 * resumed yet (FAILED_PRECONDITION). A refusal (too large, a bad digest, not permitted, not found) or
 * an error on the agent's own side (no gRPC code) stays what it is.
 */
function retryable(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' && RETRYABLE.has(code);
}

const RETRYABLE = new Set<number>([
  GrpcStatus.UNAVAILABLE,
  GrpcStatus.CANCELLED,
  GrpcStatus.INTERNAL,
  GrpcStatus.UNKNOWN,
  GrpcStatus.DEADLINE_EXCEEDED,
  GrpcStatus.ABORTED,
  GrpcStatus.FAILED_PRECONDITION,
]);

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
