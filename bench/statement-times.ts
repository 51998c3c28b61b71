// A preload that times every SQLite statement of the process, by SQL text, and prints the 40 costliest
// on exit (stderr): which queries a measurement spends its store time in, and how many of each. It also
// counts write transactions (each COMMIT, and each write outside a transaction, which SQLite commits on
// its own): divided by the builds a measurement ran, the store round trips a build costs.
//
//   node --import tsx --import ./bench/statement-times.ts bench/main.ts --only dispatch
//
// The steps/s hub is a child process whose stderr the bench drains: preload it there and name a file,
//   OUTPOST_BENCH_HUB_NODE_ARGS='--import tsx --import ./bench/statement-times.ts' \
//   OUTPOST_STATEMENT_TIMES_FILE=/tmp/statements.txt npm run bench -- --only throughput
//
// It wraps better-sqlite3's Statement methods, so it sees SQLite's own time (the self time of Kysely's
// `executeQuery` in a CPU profile), not Kysely building queries. docs/performance.md has the recipe.

import { appendFileSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import BetterSqlite3 from 'better-sqlite3';

const TOP = 40;
const times = new Map<string, { calls: number; ms: number }>();
const counts = { statements: 0, reads: 0, commits: 0, autocommits: 0 };
/**
 * Each COMMIT's time, and the CPU it used: a WAL checkpoint runs inside the commit that crosses
 * wal_autocheckpoint, and on a loaded machine a commit's wall time also counts the time it was preempted.
 */
const commitMs: number[] = [];
/** The writes committed on their own, by SQL text: each could have joined a transaction. */
const singleWrites = new Map<string, number>();
let commitCpuUs = 0;

/** Counts the statement as a read, a commit, or a write committed on its own. */
function count(statement: BetterSqlite3.Statement): void {
  counts.statements++;
  const verb = statement.source.trimStart().slice(0, 8).toLowerCase();
  if (verb.startsWith('commit')) counts.commits++;
  // The commit batch's savepoints (hub/store/commit-batch.ts) are a transaction's begin and end.
  else if (/^(begin|rollback|savepoin|release)/.test(verb)) return;
  else if (statement.readonly) counts.reads++;
  else if (!statement.database.inTransaction) {
    counts.autocommits++;
    singleWrites.set(statement.source, (singleWrites.get(statement.source) ?? 0) + 1);
  }
}

type Method = (this: BetterSqlite3.Statement, ...args: unknown[]) => unknown;
const probe = new BetterSqlite3(':memory:');
const proto = Object.getPrototypeOf(probe.prepare('select 1')) as Record<string, Method>;
probe.close();
for (const name of ['run', 'get', 'all', 'iterate']) {
  const original = proto[name];
  if (!original) continue;
  proto[name] = function timed(this: BetterSqlite3.Statement, ...args: unknown[]) {
    count(this);
    const commit = this.source === 'commit';
    const cpu = commit ? process.cpuUsage() : undefined;
    const start = performance.now();
    try {
      return original.apply(this, args);
    } finally {
      const ms = performance.now() - start;
      const entry = times.get(this.source) ?? { calls: 0, ms: 0 };
      entry.calls++;
      entry.ms += ms;
      if (cpu !== undefined) {
        const used = process.cpuUsage(cpu);
        commitCpuUs += used.user + used.system;
        commitMs.push(ms);
      }
      times.set(this.source, entry);
    }
  };
}

/** The commits' median and tail, and what the slowest (the checkpoints) add up to. */
function commitSpread(): string {
  const sorted = [...commitMs].sort((a, b) => a - b);
  const at = (q: number) =>
    (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0).toFixed(3);
  const slow = sorted.filter((ms) => ms >= 5);
  const slowMs = slow.reduce((sum, ms) => sum + ms, 0);
  return (
    `commit p50 ${at(0.5)} ms, p90 ${at(0.9)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms; ` +
    `${slow.length} commits of 5 ms or more took ${slowMs.toFixed(0)} ms; ` +
    `CPU in commits ${(commitCpuUs / 1000).toFixed(0)} ms (${(commitCpuUs / 1000 / Math.max(1, sorted.length)).toFixed(3)} ms each)`
  );
}

/** What the process wrote (the WAL's frames, and the checkpoints' pages into the database file). */
function bytesWritten(): string {
  try {
    const io = readFileSync('/proc/self/io', 'utf8');
    const field = (name: string) =>
      Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(io)?.[1] ?? NaN) / 2 ** 20;
    return `process wrote ${field('wchar').toFixed(0)} MB (write calls), ${field('write_bytes').toFixed(0)} MB to storage`;
  } catch {
    return 'process I/O: not readable (/proc/self/io)';
  }
}

process.on('exit', () => {
  let total = 0;
  for (const { ms } of times.values()) total += ms;
  const lines = [...times]
    .sort((a, b) => b[1].ms - a[1].ms)
    .slice(0, TOP)
    .map(
      ([sql, { calls, ms }]) =>
        `${ms.toFixed(0).padStart(7)} ms ${String(calls).padStart(7)} x ${(ms / calls).toFixed(3)} ms  ${sql.replace(/\s+/g, ' ').slice(0, 200)}`,
    );
  const { statements, reads, commits, autocommits } = counts;
  const report =
    `\n${bytesWritten()}` +
    `\nSQLite statements: ${total.toFixed(0)} ms in all; ${statements} statements, ${reads} reads, ` +
    `${commits + autocommits} write transactions (${commits} commits, ${autocommits} single writes)\n` +
    `${commitSpread()}\n` +
    [...singleWrites]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5)
      .map(
        ([sql, n]) => `single write ${String(n).padStart(7)} x  ${sql.replace(/\s+/g, ' ').slice(0, 160)}\n`,
      )
      .join('') +
    `${lines.join('\n')}\n`;
  const file = process.env.OUTPOST_STATEMENT_TIMES_FILE;
  if (file) appendFileSync(file, report);
  else process.stderr.write(report);
});
