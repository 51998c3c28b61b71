// Runs the testflight pipelines (../shared/conformance/testflight) that need only what Outpost has today,
// through the real `outpost` CLI against a real hub and agent, and checks what their README says fly shows.
// scenarios.ts holds each fixture's scenarios or why it is not run; known-failures.ts the runnable fixtures
// that fail for now. Prints `conformance: N of M pass` and a table with one row per fixture.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { sandbox, type RunResult, type Sandbox } from '../../cli/test/fake-hub.js';
import { runCli } from '../../cli/main.js';
import { interpolate } from '../../hub/pipeline/interpolate.js';
import { startTestAgent, startTestHub, type TestHub } from '../support/harness.js';
import { KNOWN_FAILURES } from './known-failures.js';
import {
  PLANS,
  type Action,
  type BuildExpectation,
  type CommandExpectation,
  type Scenario,
} from './scenarios.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dir = path.resolve(repoRoot, '../shared/conformance/testflight');
const present = existsSync(dir);
const SKIP_REASON = `conformance: skipped, ${dir} does not exist (the shared conformance corpus is not checked out)`;
if (!present) console.log(SKIP_REASON);
const fixtures = present
  ? readdirSync(dir)
      .filter((f) => f.endsWith('.yml'))
      .sort()
  : [];

/** How long one build (or one CLI call) may take before the case counts as failed. */
const BUILD_TIMEOUT_MS = 30_000;
/** CONFORMANCE_VERBOSE=1 prints every build's output and, at the end, the output of each failure. */
const VERBOSE = process.env.CONFORMANCE_VERBOSE !== undefined && process.env.CONFORMANCE_VERBOSE !== '';

// The suite's -v/-y vars (README "How the suite drives Concourse"); random UUIDs there, fixed here.
const VARS: Record<string, unknown> = {
  hash: 'hash-uuid',
  'hash-1': 'hash-1-uuid',
  'hash-2': 'hash-2-uuid',
  unique_version: 'unique-version-uuid',
  unique_config: 'unique-config-uuid',
  initial_version: 'initial-version-uuid',
};

/** Each fixture's class (A/B) from its README heading `### name.yml — A`. */
function readClasses(): Map<string, string> {
  const classes = new Map<string, string>();
  const readme = path.join(dir, 'README.md');
  if (!existsSync(readme)) return classes;
  for (const m of readFileSync(readme, 'utf8').matchAll(/^### (\S+\.yml) — ([A-Z])\b/gm))
    if (m[1] !== undefined && m[2] !== undefined) classes.set(m[1], m[2]);
  return classes;
}

type Outcome = 'pass' | 'fail' | 'not-run';
interface Row {
  fixture: string;
  klass: string;
  result: Outcome;
  reason: string;
  /** The CLI output of the failing case, for the report. */
  evidence?: string;
}
const rows = new Map<string, Row>();
const classes = present ? readClasses() : new Map<string, string>();

let hub: TestHub | undefined;
const agents: Awaited<ReturnType<typeof startTestAgent>>[] = [];
let cli: Sandbox;

class CaseFailure extends Error {
  constructor(
    message: string,
    readonly evidence?: string,
  ) {
    super(message);
  }
}

function withTimeout<T>(promise: Promise<T>, label: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new CaseFailure(`${label}: no result after ${BUILD_TIMEOUT_MS} ms`)),
      BUILD_TIMEOUT_MS,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Runs the CLI like the sandbox does, but with stdout readable while the command is still running. */
function runLive(args: string[]): { stdout: () => string; done: Promise<RunResult> } {
  let out = '';
  let err = '';
  const done = runCli(
    args,
    {
      stdout: { write: (s: string) => (out += s) },
      stderr: { write: (s: string) => (err += s) },
      stdin: Readable.from([]),
      env: cli.env,
      isTTY: false,
    },
    { client: { reconnectDelayMs: 10 } },
  ).then((code) => ({ code, stdout: out, stderr: err }));
  return { stdout: () => out, done };
}

async function run(args: string[]): Promise<RunResult> {
  return withTimeout(runLive(args).done, `outpost ${args.join(' ')}`);
}

function shown(result: RunResult): string {
  return `exit ${result.code}\n--- stdout\n${result.stdout}--- stderr\n${result.stderr}`;
}

/** The first unmet expectation of a watched build, or undefined; `job` when it was started by trigger-job. */
function checkBuild(
  result: RunResult,
  expect: BuildExpectation,
  job: string | undefined,
): string | undefined {
  const out = result.stdout;
  const lines = out.split('\n').filter((l) => l.trim() !== '');
  if (job !== undefined && !lines[0]?.startsWith(`started ${job} #`))
    return `first line ${JSON.stringify(lines[0])}, expected "started ${job} #N"`;
  // The result first (as the suite's fly helper does), with the lines before it as a hint.
  const last = lines.at(-1)?.trim();
  const before = lines.slice(-4, -1).join(' | ');
  if (last !== expect.status || result.code !== expect.exit)
    return `ended "${last ?? ''}" exit ${result.code}, expected "${expect.status}" exit ${expect.exit} (after: ${before})`;
  return checkOutput(out, expect);
}

/** The first text of `inOrder` missing (in order) from the output, or of `absent` present in it. */
function checkOutput(
  out: string,
  expect: { inOrder?: (string | string[])[]; absent?: string[] },
): string | undefined {
  let pos = 0;
  for (const entry of expect.inOrder ?? []) {
    let end = pos;
    for (const text of typeof entry === 'string' ? [entry] : entry) {
      const at = out.indexOf(text, pos);
      if (at < 0)
        return out.includes(text)
          ? `"${text}" appears, but not after the previous expected text`
          : `no "${text}" in the output`;
      end = Math.max(end, at + text.length);
    }
    pos = end;
  }
  for (const text of expect.absent ?? []) if (out.includes(text)) return `unexpected "${text}" in the output`;
  return undefined;
}

async function act(pipeline: string, action: Action): Promise<void> {
  const sub = (s: string) => s.replaceAll('{P}', pipeline);
  switch (action.do) {
    case 'set-pipeline': {
      const source = readFileSync(path.join(dir, action.fixture), 'utf8');
      const done = interpolate(source, { ...VARS, ...action.vars }, action.fixture);
      if (done.diagnostics.length > 0)
        throw new CaseFailure(`interpolating ${action.fixture}: ${done.diagnostics[0]?.message ?? ''}`);
      const file = path.join(cli.dir, `${pipeline}-${action.fixture}`);
      await writeFile(file, done.source);
      const result = await run(['set-pipeline', '-p', pipeline, '-c', file, '-n']);
      if (result.code !== 0)
        throw new CaseFailure(`set-pipeline ${action.fixture}: exit ${result.code}`, shown(result));
      // As the suite does: set-pipeline, then unpause.
      const unpaused = await run(['unpause-pipeline', '-p', pipeline]);
      if (unpaused.code !== 0)
        throw new CaseFailure(`unpause-pipeline: exit ${unpaused.code}`, shown(unpaused));
      return;
    }
    case 'trigger': {
      const job = `${action.pipeline === undefined ? pipeline : sub(action.pipeline)}/${action.job}`;
      const live = runLive(['trigger-job', '-j', job, '-w']);
      if (action.abortAfterLine !== undefined) {
        const want = action.abortAfterLine;
        const deadline = Date.now() + BUILD_TIMEOUT_MS;
        const watching = { ended: undefined as RunResult | undefined };
        void live.done.then((r) => (watching.ended = r));
        while (!live.stdout().split('\n').includes(want)) {
          if (watching.ended !== undefined || Date.now() > deadline) {
            const evidence = watching.ended ? shown(watching.ended) : `(still running)\n${live.stdout()}`;
            throw new CaseFailure(`${action.job}: no output line "${want}" to abort after`, evidence);
          }
          await new Promise((r) => setTimeout(r, 50));
        }
        const name = /^started \S+ #(\S+)$/m.exec(live.stdout())?.[1] ?? '1';
        const abort = await run(['abort-build', '-j', job, '-b', name]);
        if (abort.code !== 0)
          throw new CaseFailure(`abort-build -b ${name}: exit ${abort.code}`, shown(abort));
      }
      const result = await withTimeout(live.done, `trigger-job -j ${job} -w`);
      if (VERBOSE) console.log(`=== trigger-job -j ${job} -w\n${shown(result)}`);
      const problem = checkBuild(result, action.expect, job);
      if (problem !== undefined) throw new CaseFailure(`${action.job}: ${problem}`, shown(result));
      return;
    }
    case 'check':
    case 'check-type':
    case 'resource-versions':
    case 'resources': {
      const from = action.do === 'check' || action.do === 'check-type' ? (action.from ?? []) : [];
      const args =
        action.do === 'check'
          ? ['check-resource', '-r', `${pipeline}/${action.resource}`]
          : action.do === 'check-type'
            ? ['check-resource-type', '-r', `${pipeline}/${action.type}`]
            : action.do === 'resource-versions'
              ? ['resource-versions', '-r', `${pipeline}/${action.resource}`]
              : ['resources', '-p', pipeline];
      args.push(...from.flatMap((f) => ['-f', f]));
      const result = await run(args);
      if (VERBOSE) console.log(`=== ${args.join(' ')}\n${shown(result)}`);
      const problem = commandProblem(result, action.expect);
      if (problem !== undefined) throw new CaseFailure(`${args[0] ?? ''}: ${problem}`, shown(result));
      return;
    }
    case 'watch': {
      const result = await run(['watch', '-j', `${pipeline}/${action.job}`, '-b', action.build]);
      if (VERBOSE) console.log(`=== watch -j ${pipeline}/${action.job} -b ${action.build}\n${shown(result)}`);
      const problem = checkBuild(result, action.expect, undefined);
      if (problem !== undefined)
        throw new CaseFailure(`watch ${action.job} #${action.build}: ${problem}`, shown(result));
      return;
    }
    case 'builds': {
      const result = await run(['builds', '-p', pipeline]);
      if (result.code !== 0) throw new CaseFailure(`builds -p: exit ${result.code}`, shown(result));
      for (const text of action.contains.map(sub))
        if (!result.stdout.includes(text)) throw new CaseFailure(`builds: no "${text}"`, shown(result));
      for (const text of (action.absent ?? []).map(sub))
        if (result.stdout.includes(text))
          throw new CaseFailure(`builds: unexpected "${text}"`, shown(result));
      if (action.rows !== undefined) {
        const count = result.stdout.split('\n').filter((l) => l.includes(`${pipeline}/`)).length;
        if (count !== action.rows)
          throw new CaseFailure(
            `builds: ${count} rows for the pipeline, expected ${action.rows}`,
            shown(result),
          );
      }
      return;
    }
  }
}

function commandProblem(result: RunResult, expect: CommandExpectation): string | undefined {
  if (result.code !== expect.exit) return `exit ${result.code}, expected ${expect.exit}`;
  return checkOutput(result.stdout + result.stderr, expect);
}

async function runScenario(fixture: string, scenario: Scenario): Promise<void> {
  const pipeline = `tf-${fixture.replace(/\.yml$/, '').replaceAll('_', '-')}-${scenario.name}`;
  for (const action of scenario.actions) await act(pipeline, action);
}

function table(): string {
  const header = ['fixture', 'class', 'result', 'reason'];
  const body = fixtures.map((f) => {
    const r = rows.get(f) ?? {
      fixture: f,
      klass: classes.get(f) ?? '?',
      result: 'not-run',
      reason: 'did not run (filtered out with -t, or its test crashed)',
    };
    return [r.fixture, r.klass, r.result, r.reason];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]?.length ?? 0)));
  return [header, ...body]
    .map((cols) =>
      cols
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

beforeAll(async () => {
  if (!present) return;
  hub = await startTestHub();
  const started = hub;
  const pools = '  - name: local\n    platform: linux\n    capacity: 8';
  agents.push(await startTestAgent(started, { name: 'agent-1', pools }));
  await Promise.all(agents.map((a) => a.welcomed));
  cli = await sandbox();
  const login = await cli.run(['login', '--url', started.url, '--token', started.adminToken]);
  if (login.code !== 0) throw new Error(`login failed: ${shown(login)}`);
}, 60_000);

afterAll(async () => {
  if (present) {
    const passing = fixtures.filter((f) => rows.get(f)?.result === 'pass').length;
    const evidence = fixtures
      .map((f) => rows.get(f))
      .filter((r): r is Row => r?.result === 'fail' && r.evidence !== undefined)
      .map((r) => `=== ${r.fixture}: ${r.reason}\n${r.evidence ?? ''}`);
    console.log(`conformance: ${passing} of ${fixtures.length} pass`);
    console.log(table());
    if (VERBOSE && evidence.length > 0) console.log(evidence.join('\n'));
  }
  for (const a of agents) await a.stop();
  await hub?.close();
}, 60_000);

describe('testflight conformance', () => {
  it.skipIf(!present)('finds the fixtures', () => {
    expect(fixtures.length).toBeGreaterThan(0);
  });
  if (!present) it.skip(SKIP_REASON, () => undefined);

  it.skipIf(!present)('classifies every fixture', () => {
    const unclassified = fixtures.filter((f) => PLANS[f] === undefined);
    expect(unclassified, 'add these fixtures to scenarios.ts').toEqual([]);
    const stale = Object.keys(KNOWN_FAILURES).filter((f) => {
      const plan = PLANS[f];
      return !fixtures.includes(f) || plan === undefined || !('scenarios' in plan);
    });
    expect(stale, 'known-failures.ts names fixtures that are not run; remove them').toEqual([]);
  });

  for (const fixture of fixtures) {
    const plan = PLANS[fixture];
    const klass = classes.get(fixture) ?? '?';
    if (plan === undefined) {
      rows.set(fixture, { fixture, klass, result: 'not-run', reason: 'not classified in scenarios.ts' });
      continue;
    }
    if ('notRun' in plan) {
      rows.set(fixture, { fixture, klass, result: 'not-run', reason: plan.notRun });
      it.skip(`${fixture}: not-run, ${plan.notRun}`, () => undefined);
      continue;
    }
    it(
      fixture,
      async () => {
        const known = KNOWN_FAILURES[fixture];
        let failure: CaseFailure | undefined;
        for (const scenario of plan.scenarios) {
          try {
            await runScenario(fixture, scenario);
          } catch (err) {
            failure =
              err instanceof CaseFailure
                ? new CaseFailure(`${scenario.name}: ${err.message}`, err.evidence)
                : new CaseFailure(`${scenario.name}: ${err instanceof Error ? err.message : String(err)}`);
            break;
          }
        }
        if (failure === undefined) {
          rows.set(fixture, { fixture, klass, result: 'pass', reason: plan.note ?? '' });
          if (known !== undefined)
            throw new Error(`${fixture} passes now: remove it from known-failures.ts (was: ${known})`);
          return;
        }
        rows.set(fixture, {
          fixture,
          klass,
          result: 'fail',
          reason: known !== undefined ? `(known: ${known}) ${failure.message}` : failure.message,
          ...(failure.evidence !== undefined ? { evidence: failure.evidence } : {}),
        });
        if (known === undefined) throw new Error(`${fixture}: ${failure.message}\n${failure.evidence ?? ''}`);
      },
      90_000,
    );
  }
});
