import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, realpath, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ExecStep, LogData, RunningStep } from '../executor.js';
import { ProcessExecutor } from './executor.js';
import { preciseNow } from './state.js';

let root: string;
let executor: ProcessExecutor;
let seq = 0;
const started: RunningStep[] = [];

beforeEach(async () => {
  root = await realpath(await mkdtemp(path.join(os.tmpdir(), 'outpost-proc-test-')));
  executor = new ProcessExecutor({ workRoot: path.join(root, 'work'), hostLingerMs: 0 });
});

afterEach(async () => {
  for (const s of started.splice(0)) {
    await s.abort(0, 'test over');
    await s.cleanup();
  }
  // No orphans: no supervisor (its state dir is on its command line) and no step process (its cwd)
  // may outlive the test's steps.
  let left: string[] = [];
  for (let i = 0; i < 100 && (left = processesUnder(root)).length > 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(left).toEqual([]);
  await rm(root, { recursive: true, force: true });
});

/** Linux: live processes whose command line or working directory is under `dir`. */
function processesUnder(dir: string): string[] {
  if (process.platform !== 'linux') return [];
  const found: string[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || !isAlive(Number(name))) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ');
      let cwd = '';
      try {
        cwd = readlinkSync(`/proc/${name}/cwd`);
      } catch {
        // not ours to read
      }
      if (cmdline.includes(dir) || cwd.startsWith(dir)) found.push(`${name}: ${cmdline}`);
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

type StepOver = Omit<Partial<ExecStep>, 'run'> & { run?: Partial<ExecStep['run']> };

function step(over: StepOver = {}): ExecStep {
  const { run, ...rest } = over;
  return {
    leaseId: `lease-${++seq}`,
    env: {},
    inputs: [],
    outputs: [],
    timeoutMs: 0,
    privileged: false,
    ...rest,
    run: { path: 'sh', args: [], dir: '', user: '', ...run },
  };
}

async function start(s: ExecStep): Promise<RunningStep> {
  const r = await executor.start(s);
  started.push(r);
  return r;
}

async function collect(r: RunningStep): Promise<LogData[]> {
  const out: LogData[] = [];
  for await (const chunk of r.logs()) out.push(chunk);
  return out;
}

function text(chunks: LogData[], stream?: LogData['stream']): string {
  return Buffer.concat(chunks.filter((c) => !stream || c.stream === stream).map((c) => c.data)).toString();
}

/** Runs a step to completion, consuming its logs. */
async function run(s: ExecStep) {
  const r = await start(s);
  const [logs, result] = await Promise.all([collect(r), r.wait()]);
  return { r, logs, result, workDir: path.join(root, 'work', s.leaseId, 'work') };
}

function sh(script: string, over: Omit<StepOver, 'run'> = {}): ExecStep {
  return step({ ...over, run: { path: 'sh', args: ['-c', script] } });
}

// A zombie still answers kill(pid, 0); on Linux, /proc tells it apart from a live process.
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return st.slice(st.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return process.platform === 'linux' ? false : true;
  }
}

/** Bounded poll: resolves true as soon as the pid is gone, false after ~5 s. */
async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 500; i++) {
    if (!isAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return false;
}

/** Reads logs until `re` matches the stdout so far; returns the match and an iterator to continue. */
async function readUntil(r: RunningStep, re: RegExp) {
  const it = r.logs()[Symbol.asyncIterator]();
  let seen = '';
  for (;;) {
    const n = await it.next();
    if (n.done) throw new Error(`logs ended before ${String(re)}; got ${seen}`);
    if (n.value.stream === 'stdout') seen += n.value.data.toString();
    const m = re.exec(seen);
    if (m) return { m, it };
  }
}

async function drain(it: AsyncIterator<LogData>) {
  while (!(await it.next()).done);
}

describe('ProcessExecutor', () => {
  it('has kind "process"', () => {
    expect(executor.kind).toBe('process');
  });

  it('runs a command to success, capturing many lines in order', async () => {
    const { logs, result } = await run(sh('i=1; while [ $i -le 3000 ]; do echo "line $i"; i=$((i+1)); done'));
    expect(result).toEqual({ status: 'succeeded', exitStatus: 0, error: undefined });
    const expected = Array.from({ length: 3000 }, (_, i) => `line ${i + 1}\n`).join('');
    expect(text(logs, 'stdout')).toBe(expected);
    expect(logs.every((c) => typeof c.at === 'number' && c.at > 0)).toBe(true);
  });

  it('interleaves stdout and stderr in arrival order', async () => {
    const { logs } = await run(sh('echo a; sleep 0.05; echo b >&2; sleep 0.05; echo c'));
    expect(logs.map((c) => [c.stream, c.data.toString()])).toEqual([
      ['stdout', 'a\n'],
      ['stderr', 'b\n'],
      ['stdout', 'c\n'],
    ]);
  });

  it('says when the step went to the step host, when the host took it and when it spawned it', async () => {
    const before = preciseNow();
    const { r, result } = await run(sh('exit 0'));
    expect(result.status).toBe('succeeded');
    const { handedOverAt, receivedAt, spawnedAt, exitedAt } = r;
    // Compared only on one process's clock: the agent's, then the host's.
    expect(handedOverAt).toBeGreaterThanOrEqual(before);
    expect(spawnedAt).toBeGreaterThanOrEqual(receivedAt ?? Infinity);
    expect(exitedAt).toBeGreaterThanOrEqual(spawnedAt ?? Infinity);
  });

  it('reports a non-zero exit as failed with its code', async () => {
    const { result } = await run(sh('exit 3'));
    expect(result).toEqual({ status: 'failed', exitStatus: 3, error: undefined });
  });

  it('reports death by signal as failed with 128+signum', async () => {
    const { result } = await run(sh('kill -9 $$'));
    expect(result.status).toBe('failed');
    expect(result.exitStatus).toBe(137);
    expect(result.error).toBe('killed by SIGKILL');
  });

  it('passes params as env on a minimal base, step values winning, with a private TMPDIR', async () => {
    const s = sh('printf "%s|%s|%s|%s|%s" "$FOO" "$HOME" "$TMPDIR" "$TEMP" "${SECRET_OF_AGENT-unset}"', {
      env: { FOO: 'bar baz', HOME: '/nowhere' },
    });
    process.env.SECRET_OF_AGENT = 'leak';
    try {
      const { logs, result, workDir } = await run(s);
      expect(result.status).toBe('succeeded');
      const tmp = path.join(workDir, '..', 'tmp');
      expect(text(logs)).toBe(`bar baz|/nowhere|${tmp}|${tmp}|unset`);
    } finally {
      delete process.env.SECRET_OF_AGENT;
    }
  });

  it('uses an explicit baseEnv', async () => {
    executor = new ProcessExecutor({
      workRoot: path.join(root, 'work'),
      baseEnv: { PATH: '/usr/bin:/bin', X: 'y' },
      hostLingerMs: 0,
    });
    const { logs } = await run(sh('printf "%s|%s" "$X" "${HOME-unset}"'));
    expect(text(logs)).toBe('y|unset');
  });

  it('creates inputs and outputs and runs in run.dir', async () => {
    const s = step({
      inputs: [{ name: 'src', path: 'src', archive: undefined }],
      outputs: [{ name: 'out', path: 'build/out' }],
      run: { path: 'sh', args: ['-c', 'pwd; ls -a ..; touch ../build/out/artifact'], dir: 'src' },
    });
    const { logs, result, workDir } = await run(s);
    expect(result.status).toBe('succeeded');
    const [pwd, ...entries] = text(logs).trim().split('\n');
    expect(pwd).toBe(path.join(workDir, 'src'));
    expect(entries).toEqual(expect.arrayContaining(['build', 'src']));
    expect(entries).not.toContain('tmp');
    expect((await stat(path.join(workDir, 'build/out/artifact'))).isFile()).toBe(true);
  });

  it('resolves a relative run.path with a slash against run.dir', async () => {
    const s = step({ inputs: [{ name: 'src', path: 'a/src', archive: undefined }] });
    const runDir = path.join(root, 'work', s.leaseId, 'work', 'a/src');
    s.run = { path: path.relative(runDir, '/bin/sh'), args: ['-c', 'echo rel'], dir: 'a/src', user: '' };
    expect(s.run.path).toContain('/');
    const { logs, result } = await run(s);
    expect(result.status).toBe('succeeded');
    expect(text(logs)).toBe('rel\n');
  });

  it.each([
    [
      { inputs: [{ name: 'src', path: '../evil', archive: undefined }] },
      'input "src" path "../evil": escapes the work dir',
    ],
    [{ outputs: [{ name: 'o', path: '/etc' }] }, 'output "o" path "/etc": must be relative to the work dir'],
    [{ outputs: [{ name: 'o', path: 'a/../../b' }] }, 'output "o" path "a/../../b": escapes the work dir'],
    [{ run: { dir: '../..' } }, 'run.dir "../..": escapes the work dir'],
    [{ run: { dir: 'missing' } }, 'run.dir "missing": no such directory in the work dir'],
  ] as [StepOver, string][])('rejects a bad path as errored: %j', async (over, error) => {
    const { logs, result } = await run(step({ ...over, run: { args: ['-c', 'echo ran'], ...over.run } }));
    expect(result).toEqual({ status: 'errored', exitStatus: -1, error });
    expect(logs).toEqual([]);
    expect(existsSync(path.join(root, 'evil'))).toBe(false);
  });

  it('ends a missing command as errored, not failed', async () => {
    const { result } = await run(step({ run: { path: 'no-such-command-xyz' } }));
    expect(result).toEqual({
      status: 'errored',
      exitStatus: -1,
      error: 'run.path "no-such-command-xyz": command not found',
    });
    const rel = await run(step({ run: { path: './missing.sh' } }));
    expect(rel.result.error).toBe('run.path "./missing.sh": command not found');
  });

  it('ends a non-executable command as errored: permission denied', async () => {
    const file = path.join(root, 'not-exec.sh');
    await writeFile(file, '#!/bin/sh\necho hi\n');
    await chmod(file, 0o644);
    const { result } = await run(step({ run: { path: file } }));
    expect(result).toEqual({
      status: 'errored',
      exitStatus: -1,
      error: `run.path "${file}": permission denied`,
    });
  });

  it('runs as the agent user and refuses another one', async () => {
    const me = os.userInfo().username;
    expect(await run(sh('true', {})).then((x) => x.result.status)).toBe('succeeded');
    const same = await run(step({ run: { args: ['-c', 'true'], user: me } }));
    expect(same.result.status).toBe('succeeded');
    const other = await run(step({ run: { args: ['-c', 'true'], user: 'someone-else' } }));
    expect(other.result.status).toBe('errored');
    expect(other.result.error).toMatch(/^run\.user "someone-else": .*cannot switch users/);
  });

  it('rejects start for a reused work dir or a lease id that is not a plain name', async () => {
    const s = sh('true');
    await run(s);
    await expect(executor.start(s)).rejects.toThrow(/already exists/);
    await expect(executor.start(sh('true', { leaseId: '../x' }))).rejects.toThrow(
      /cannot name a work directory/,
    );
  });

  it('abort kills the whole process group, grandchildren included', async () => {
    const r = await start(sh('sleep 100 & echo "gc=$!"; wait'));
    const { m, it } = await readUntil(r, /gc=(\d+)\n/);
    const gc = Number(m[1]);
    expect(isAlive(gc)).toBe(true);
    await Promise.all([r.abort(5_000, 'user asked'), drain(it)]);
    await r.abort(5_000, 'again'); // idempotent
    expect(await r.wait()).toEqual({ status: 'aborted', exitStatus: 143, error: 'interrupted' });
    expect(await gone(gc)).toBe(true);
  });

  it('abort escalates to SIGKILL after the grace', async () => {
    const r = await start(sh('trap "" TERM; sleep 100 & echo "gc=$!"; wait; wait'));
    const { m, it } = await readUntil(r, /gc=(\d+)\n/);
    const gc = Number(m[1]);
    const t0 = Date.now();
    await Promise.all([r.abort(200, 'stop'), drain(it)]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
    expect(await r.wait()).toEqual({ status: 'aborted', exitStatus: 137, error: 'interrupted' });
    expect(await gone(gc)).toBe(true);
  });

  it('abort after the step ended keeps its result', async () => {
    const { r, result } = await run(sh('exit 0'));
    await r.abort(0, 'late');
    expect(await r.wait()).toEqual(result);
    expect(result.status).toBe('succeeded');
  });

  it('kills leftovers when the main process exits, without waiting on their open pipes', async () => {
    const t0 = Date.now();
    const { logs, result } = await run(sh('sleep 100 & echo "gc=$!"'));
    expect(result.status).toBe('succeeded');
    expect(Date.now() - t0).toBeLessThan(10_000);
    const gc = Number(/gc=(\d+)/.exec(text(logs))![1]);
    expect(await gone(gc)).toBe(true);
  });

  it('fails a step whose timeout elapses', async () => {
    const { result } = await run(sh('echo started; sleep 100', { timeoutMs: 200 }));
    expect(result).toEqual({ status: 'failed', exitStatus: 143, error: 'timeout exceeded' });
  });

  it('wait() can be awaited many times and cleanup() removes the work dir', async () => {
    const { r, workDir } = await run(sh('echo hi > "$TMPDIR/f"'));
    expect(await r.wait()).toEqual(await r.wait());
    expect(existsSync(path.join(workDir, '..', 'tmp', 'f'))).toBe(true);
    await r.cleanup();
    await r.cleanup();
    expect(existsSync(path.dirname(workDir))).toBe(false);
  });

  it('a consumer that stops reading early does not stall the step', async () => {
    const r = await start(sh('head -c 20000000 /dev/zero'));
    for await (const _chunk of r.logs()) break;
    expect((await r.wait()).status).toBe('succeeded');
  });

  // OUTPOST_TEST_SPILL_MB=1024 runs the 1 GB case (slow; disk).
  const spillMb = Number(process.env.OUTPOST_TEST_SPILL_MB ?? 200);
  it(`spills output to disk: ${spillMb} MB ends without a reader, then reads back in bounded memory`, async () => {
    const total = spillMb * 1024 * 1024;
    const s = sh(`head -c ${total} /dev/zero`);
    const r = await start(s);
    // Nobody reads: the step must still run to its end (the supervisor writes to the log file).
    const resultFile = path.join(root, 'work', s.leaseId, 'state', 'result.json');
    for (let i = 0; i < 4000 && !existsSync(resultFile); i++) await new Promise((res) => setTimeout(res, 50));
    expect(existsSync(resultFile)).toBe(true);
    const rss0 = process.memoryUsage().rss;
    let got = 0;
    let maxRssDelta = 0;
    let n = 0;
    for await (const chunk of r.logs()) {
      got += chunk.data.length;
      if (++n % 64 === 0) maxRssDelta = Math.max(maxRssDelta, process.memoryUsage().rss - rss0);
    }
    expect(got).toBe(total);
    expect((await r.wait()).status).toBe('succeeded');
    expect(maxRssDelta).toBeLessThan(100 * 1024 * 1024);
  }, 300_000);
});

describe('ProcessExecutor across an agent restart', () => {
  /** A fresh executor on the same work root: what a restarted agent process builds. */
  function restarted(): ProcessExecutor {
    return new ProcessExecutor({ workRoot: path.join(root, 'work'), hostLingerMs: 0 });
  }
  async function reattach(e: ProcessExecutor, leaseId: string): Promise<RunningStep> {
    expect(await e.listHeld()).toContain(leaseId);
    const r = await e.reattach(leaseId);
    if (!r) throw new Error(`could not reattach ${leaseId}`);
    started.push(r);
    return r;
  }
  const stateOf = (leaseId: string, file: string) => path.join(root, 'work', leaseId, 'state', file);
  async function until(cond: () => boolean, ms = 10_000): Promise<void> {
    for (let t = 0; t < ms && !cond(); t += 20) await new Promise((r) => setTimeout(r, 20));
    expect(cond()).toBe(true);
  }

  it('reattaches to a running step: every line exactly once, the same pieces, the right status', async () => {
    const s = sh(
      'i=1; while [ $i -le 400 ]; do echo "line $i"; [ $((i % 50)) -eq 0 ] && sleep 0.05; i=$((i+1)); done; exit 4',
      { redact: ['hunter2'] },
    );
    const first = await start(s);
    // The first "agent" read some pieces, then died: its executor and step objects are just dropped.
    const seenBefore: LogData[] = [];
    for await (const piece of first.logs()) {
      seenBefore.push(piece);
      if (text(seenBefore).includes('line 120\n')) break;
    }
    const again = await reattach(restarted(), s.leaseId);
    expect(again.redact).toEqual(['hunter2']);
    const [logs, result] = await Promise.all([collect(again), again.wait()]);
    expect(result).toEqual({ status: 'failed', exitStatus: 4, error: undefined });
    const expected = Array.from({ length: 400 }, (_, i) => `line ${i + 1}\n`).join('');
    expect(text(logs, 'stdout')).toBe(expected);
    // The replay starts with exactly the pieces the first reader got, so log sequence numbers line up.
    expect(logs.slice(0, seenBefore.length)).toEqual(seenBefore);
  });

  it('keeps the redaction list in a 0600 file and never writes the step env to disk', async () => {
    const s = sh('echo ok', { env: { API_KEY: 'env-secret-value' }, redact: ['redact-me'] });
    await run(s);
    const stateDir = path.join(root, 'work', s.leaseId, 'state');
    expect((await stat(stateDir)).mode & 0o777).toBe(0o700);
    expect((await stat(stateOf(s.leaseId, 'held.json'))).mode & 0o777).toBe(0o600);
    expect(readFileSync(stateOf(s.leaseId, 'held.json'), 'utf8')).toContain('redact-me');
    for (const name of readdirSync(stateDir)) {
      expect(readFileSync(path.join(stateDir, name), 'utf8')).not.toContain('env-secret-value');
    }
  });

  it('replays the same pieces in the same order', async () => {
    const s = sh('for i in 1 2 3 4 5 6; do echo "out $i"; echo "err $i" >&2; sleep 0.02; done');
    const { logs } = await run(s);
    // run() cleaned nothing up yet: a second reader over the same state dir sees the same records.
    const again = await reattach(restarted(), s.leaseId);
    const replay = await collect(again);
    expect(replay.map((c) => [c.stream, c.data.toString(), c.at])).toEqual(
      logs.map((c) => [c.stream, c.data.toString(), c.at]),
    );
    expect(await again.wait()).toEqual({ status: 'succeeded', exitStatus: 0, error: undefined });
  });

  it('a step that finished while the agent was away: its logs and result are still there', async () => {
    const s = sh('echo done; echo oops >&2; exit 3');
    await start(s); // never read
    await until(() => existsSync(stateOf(s.leaseId, 'result.json')));
    const again = await reattach(restarted(), s.leaseId);
    const [logs, result] = await Promise.all([collect(again), again.wait()]);
    expect(text(logs, 'stdout')).toBe('done\n');
    expect(text(logs, 'stderr')).toBe('oops\n');
    expect(result).toEqual({ status: 'failed', exitStatus: 3, error: undefined });
    await again.cleanup();
    expect(existsSync(path.join(root, 'work', s.leaseId))).toBe(false);
    expect(await restarted().listHeld()).toEqual([]);
  });

  it('keeps the timeout across the restart (the supervisor keeps it)', async () => {
    const s = sh('echo started; sleep 100', { timeoutMs: 700 });
    await start(s);
    const again = await reattach(restarted(), s.leaseId);
    const [logs, result] = await Promise.all([collect(again), again.wait()]);
    expect(text(logs)).toBe('started\n');
    expect(result).toEqual({ status: 'failed', exitStatus: 143, error: 'timeout exceeded' });
  });

  it('aborts a reattached step: its whole group goes', async () => {
    const s = sh('sleep 100 & echo "gc=$!"; wait');
    const first = await start(s);
    const { m } = await readUntil(first, /gc=(\d+)\n/);
    const gc = Number(m[1]);
    const again = await reattach(restarted(), s.leaseId);
    const reading = collect(again);
    await again.abort(2_000, 'user asked');
    expect(await again.wait()).toEqual({ status: 'aborted', exitStatus: 143, error: 'interrupted' });
    expect(text(await reading)).toBe(`gc=${gc}\n`);
    expect(await gone(gc)).toBe(true);
  });

  it('the step host also honours abort.json alone (a lost message)', async () => {
    const s = sh('echo started; sleep 100');
    const r = await start(s);
    const { it } = await readUntil(r, /started\n/);
    await writeFile(stateOf(s.leaseId, 'abort.json'), JSON.stringify({ graceMs: 0 }));
    await drain(it);
    expect(await r.wait()).toEqual({ status: 'aborted', exitStatus: 143, error: 'interrupted' });
  });

  it('stops a step whose directory was removed under it (nobody could ever collect it)', async () => {
    const s = sh('sleep 100 & echo "gc=$!"; wait');
    const r = await start(s);
    const { m } = await readUntil(r, /gc=(\d+)\n/);
    const supervisor = Number(readFileSync(stateOf(s.leaseId, 'pid'), 'utf8'));
    await rm(path.join(root, 'work', s.leaseId), { recursive: true, force: true });
    expect(await gone(Number(m[1]))).toBe(true);
    expect(await gone(supervisor)).toBe(true);
  });

  it('sweep stops and removes the steps of leases not kept, and keeps its own', async () => {
    const orphan = sh('sleep 100 & echo "gc=$!"; wait');
    const kept = sh('sleep 100');
    const first = await start(orphan);
    await start(kept);
    const { m } = await readUntil(first, /gc=(\d+)\n/);
    const gc = Number(m[1]);
    const leader = Number(readFileSync(stateOf(orphan.leaseId, 'pgid'), 'utf8'));
    const host = Number(readFileSync(stateOf(orphan.leaseId, 'pid'), 'utf8'));
    // Leftovers of a crash before the step started: a directory without state.
    await mkdir(path.join(root, 'work', 'half-started', 'work'), { recursive: true });

    const fresh = restarted();
    const mine = await fresh.start(sh('sleep 100'));
    started.push(mine);
    await fresh.sweep(new Set([kept.leaseId]));
    expect(existsSync(path.join(root, 'work', orphan.leaseId))).toBe(false);
    expect(existsSync(path.join(root, 'work', 'half-started'))).toBe(false);
    expect(existsSync(path.join(root, 'work', kept.leaseId))).toBe(true);
    expect(existsSync(path.join(root, 'work', mine.leaseId))).toBe(true);
    expect(await gone(gc)).toBe(true);
    expect(await gone(leader)).toBe(true);
    // The host supervises the other steps too: a sweep never stops it.
    expect(isAlive(host)).toBe(true);
    expect(readFileSync(stateOf(mine.leaseId, 'pid'), 'utf8')).toBe(String(host));
    expect((await fresh.listHeld()).sort()).toEqual([kept.leaseId, mine.leaseId].sort());
  });

  it('the step host killed from outside: the step errors and nothing it started keeps running', async () => {
    const s = sh('sleep 100 & echo "gc=$!"; wait');
    const r = await start(s);
    const { m, it } = await readUntil(r, /gc=(\d+)\n/);
    const gc = Number(m[1]);
    const host = Number(readFileSync(stateOf(s.leaseId, 'pid'), 'utf8'));
    process.kill(host, 'SIGKILL');
    await drain(it);
    const result = await r.wait();
    expect(result.status).toBe('errored');
    expect(result.error).toMatch(/supervisor .* ended without a result/);
    expect(await gone(gc)).toBe(true);
  });

  // The agent's own death (SIGKILL) is exercised end to end in test/integration/agent-restart.test.ts.
  it('one step host supervises every step of the work root, and a restarted agent keeps using it', async () => {
    const a = sh('sleep 100');
    const b = sh('sleep 100');
    await start(a);
    await start(b);
    const host = readFileSync(stateOf(a.leaseId, 'pid'), 'utf8');
    expect(readFileSync(stateOf(b.leaseId, 'pid'), 'utf8')).toBe(host);
    const fresh = restarted();
    const c = await fresh.start(sh('echo from the new agent'));
    started.push(c);
    expect(readFileSync(stateOf(c.leaseId, 'pid'), 'utf8')).toBe(host);
    const [logs, result] = await Promise.all([collect(c), c.wait()]);
    expect(text(logs)).toBe('from the new agent\n');
    expect(result.status).toBe('succeeded');
    // The socket that carries each step's environment is the agent user's alone.
    if (process.platform !== 'win32') {
      expect(statSync(path.join(root, 'work', '.host')).mode & 0o777).toBe(0o700);
      expect(statSync(path.join(root, 'work', '.host', 'sock')).mode & 0o777).toBe(0o600);
    }
  });

  it('runs the step host in its own session and process group, away from the agent', async () => {
    const s = sh('sleep 0.5; echo survived');
    const r = await start(s);
    const supervisor = Number(readFileSync(stateOf(s.leaseId, 'pid'), 'utf8'));
    const pgidOf = (pid: number) => {
      const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[2]);
    };
    if (process.platform === 'linux') {
      expect(pgidOf(supervisor)).toBe(supervisor);
      expect(pgidOf(supervisor)).not.toBe(pgidOf(process.pid));
    }
    const [logs, result] = await Promise.all([collect(r), r.wait()]);
    expect(text(logs)).toBe('survived\n');
    expect(result.status).toBe('succeeded');
    expect(await gone(supervisor)).toBe(true);
  });
});
