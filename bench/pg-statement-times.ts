// A preload that times every PostgreSQL statement of the process, by SQL text, and prints the 40
// costliest on exit (stderr), with the transactions (BEGIN ... COMMIT) and round trips in all: which
// queries a measurement on PostgreSQL spends its store time in, and how many of each.
//
//   node --import tsx --import ./bench/pg-statement-times.ts bench/main.ts --postgres --only throughput
//
// It wraps `pg`'s Client.query, so a statement's time runs from the moment its connection sends it to
// the answer: the server's work, the round trip, and a commit's WAL flush (fsync), not the wait for a
// pooled connection. The SQLite counterpart is bench/statement-times.ts.

import { performance } from 'node:perf_hooks';
import pg from 'pg';

const TOP = 40;
const times = new Map<string, { calls: number; ms: number }>();

type Query = (this: pg.Client, ...args: unknown[]) => unknown;
const proto = pg.Client.prototype as unknown as { query: Query };
const original = proto.query;

function record(sql: string, start: number): void {
  const entry = times.get(sql) ?? { calls: 0, ms: 0 };
  entry.calls++;
  entry.ms += performance.now() - start;
  times.set(sql, entry);
}

proto.query = function timed(this: pg.Client, ...args: unknown[]) {
  const first = args[0] as string | { text?: string } | undefined;
  const sql = typeof first === 'string' ? first : (first?.text ?? '(submittable)');
  const start = performance.now();
  const last = args.length - 1;
  const callback = args[last];
  if (typeof callback === 'function') {
    // pg-pool's pool.query(): the answer comes to a callback.
    args[last] = (...results: unknown[]) => {
      record(sql, start);
      return (callback as (...r: unknown[]) => unknown)(...results);
    };
    return original.apply(this, args);
  }
  const result = original.apply(this, args);
  if (result instanceof Promise) void result.finally(() => record(sql, start)).catch(() => undefined);
  return result;
};

// Waits for a pooled connection (Kysely takes one per query or transaction): a pool too small for the
// work, or connections held by transactions waiting on a row lock, show here.
let poolWaits = 0;
let poolWaitMs = 0;
const poolProto = pg.Pool.prototype as unknown as { connect: (...args: unknown[]) => unknown };
const connect = poolProto.connect;
poolProto.connect = function timedConnect(this: pg.Pool, ...args: unknown[]) {
  const start = performance.now();
  const result = connect.apply(this, args);
  if (result instanceof Promise)
    void result
      .finally(() => {
        poolWaits++;
        poolWaitMs += performance.now() - start;
      })
      .catch(() => undefined);
  return result;
};

process.on('exit', () => {
  let total = 0;
  let calls = 0;
  for (const entry of times.values()) {
    total += entry.ms;
    calls += entry.calls;
  }
  const commits = times.get('commit')?.calls ?? 0;
  const lines = [...times]
    .sort((a, b) => b[1].ms - a[1].ms)
    .slice(0, TOP)
    .map(
      ([sql, { calls: n, ms }]) =>
        `${ms.toFixed(0).padStart(7)} ms ${String(n).padStart(7)} x ${(ms / n).toFixed(3)} ms  ${sql.replace(/\s+/g, ' ').slice(0, 200)}`,
    );
  process.stderr.write(
    `\nPostgreSQL statements: ${calls} round trips, ${commits} transactions committed, ${total.toFixed(0)} ms in all; ` +
      `${poolWaits} pooled connections taken, ${poolWaitMs.toFixed(0)} ms waited for them\n${lines.join('\n')}\n`,
  );
});
