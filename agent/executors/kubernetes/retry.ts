// Retries for the executor's API calls: an API server under load answers 429 (priority and fairness),
// a rolling control plane answers 5xx or drops connections. Every call backs off exponentially with
// full jitter (so many agents do not retry in step) and honours Retry-After; anything else (4xx, a
// refusal in words) fails at once.

export interface RetryPolicy {
  /** Tries in all, the first included. */
  attempts: number;
  baseMs: number;
  maxMs: number;
}

export const API_RETRY: RetryPolicy = { attempts: 6, baseMs: 200, maxMs: 10_000 };

/** The HTTP status of a client-node error (ApiException.code), if any. */
export function statusOf(err: unknown): number | undefined {
  if (err && typeof err === 'object') {
    const e = err as { code?: unknown; statusCode?: unknown };
    if (typeof e.code === 'number') return e.code;
    if (typeof e.statusCode === 'number') return e.statusCode;
  }
  return undefined;
}

const RESET_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ECONNABORTED',
]);

/** How long before try number `attempt` (1 = the first retry): full jitter over an exponential cap. */
export function backoffMs(attempt: number, policy: RetryPolicy = API_RETRY): number {
  const cap = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(Math.random() * cap);
}

function errorCode(err: unknown): string | undefined {
  if (!err || typeof err !== 'object') return undefined;
  const e = err as { code?: unknown; cause?: unknown };
  if (typeof e.code === 'string') return e.code;
  return e.cause ? errorCode(e.cause) : undefined;
}

/** Retry-After in ms, from an ApiException's headers (seconds or an HTTP date). */
function retryAfterMs(err: unknown): number | undefined {
  const headers = (err as { headers?: Record<string, string> } | undefined)?.headers;
  const value = headers?.['retry-after'] ?? headers?.['Retry-After'];
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** Whether `err` is worth another try: 429, 5xx, or a connection that broke. */
export function isTransient(err: unknown): boolean {
  const status = statusOf(err);
  if (status !== undefined) return status === 429 || (status >= 500 && status <= 599);
  const code = errorCode(err);
  return code !== undefined && RESET_CODES.has(code);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `call` (told which try it is, from 1) until it succeeds, fails for good, or the tries run out. */
export async function withRetry<T>(
  call: (attempt: number) => Promise<T>,
  policy: RetryPolicy = API_RETRY,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call(attempt);
    } catch (err) {
      if (attempt >= policy.attempts || !isTransient(err)) throw err;
      // Retry-After is the server's own estimate; never sooner than it asks, never unboundedly long.
      const wait = Math.max(backoffMs(attempt, policy), Math.min(retryAfterMs(err) ?? 0, 60_000));
      await sleep(wait);
    }
  }
}
