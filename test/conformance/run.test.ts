// Runs the testflight pipelines (../shared/conformance/testflight, or $OUTPOST_CONFORMANCE_DIR) through the
// real `outpost` CLI against a real hub and agent, and checks what their README says fly shows, line by
// line (output.ts). scenarios.ts holds each fixture's scenarios and what of its spec they do not check.
// Any failing check fails vitest. Prints `conformance: N pass, P partial of M` (partial: every check
// passed but part of the spec is not checked) and a table with one row per fixture.

import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { sandbox, type RunResult, type Sandbox } from '../../cli/test/fake-hub.js';
import { runCli } from '../../cli/main.js';
import { interpolate } from '../../hub/pipeline/interpolate.js';
import type { BuildSummary } from '../../hub/api/types.js';
import { readBuildEvents, startTestAgent, startTestHub, type TestHub } from '../support/harness.js';
import { CORPUS_DIR, corpusPresent, corpusRequired, FIXTURES, SUITE_VARS } from './corpus.js';
import { checkLines, parseOutput, unstyled, type OutputLine } from './output.js';
import {
  PLANS,
  type Action,
  type BuildExpectation,
  type CommandExpectation,
  type Scenario,
  SECOND_TEAM,
} from './scenarios.js';

/** How long one build (or one CLI call) may take before the case counts as failed. */
const BUILD_TIMEOUT_MS = 30_000;
/** CONFORMANCE_VERBOSE=1 prints every build's output and, at the end, the output of each failure. */
const VERBOSE = process.env.CONFORMANCE_VERBOSE !== undefined && process.env.CONFORMANCE_VERBOSE !== '';

/** Each fixture's class (A/B) from its README heading `### name.yml — A`. */
function readClasses(): Map<string, string> {
  const classes = new Map<string, string>();
  const readme = path.join(CORPUS_DIR, 'README.md');
  if (!existsSync(readme)) return classes;
  for (const m of readFileSync(readme, 'utf8').matchAll(/^### (\S+\.yml) — ([A-Z])\b/gm))
    if (m[1] !== undefined && m[2] !== undefined) classes.set(m[1], m[2]);
  return classes;
}

type Outcome = 'pass' | 'partial' | 'fail' | 'not-run';
interface Row {
  fixture: string;
  klass: string;
  result: Outcome;
  reason: string;
  /** The CLI output of the failing case, for the report. */
  evidence?: string;
}
const rows = new Map<string, Row>();
const classes = corpusPresent ? readClasses() : new Map<string, string>();

let hub: TestHub | undefined;
const agents: Awaited<ReturnType<typeof startTestAgent>>[] = [];
let cli: Sandbox;
/** A build a scenario started in the background: its job, its name, and the watching command. */
interface BackgroundBuild {
  job: string;
  name: string;
  live: ReturnType<typeof runLive>;
}
/** Builds started in the background by a scenario (`start`), by the name it gave them. */
const background = new Map<string, BackgroundBuild>();

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

/**
 * Runs the CLI like the sandbox does, but with stdout readable while the command is still running, and
 * styled as on a terminal so that output.ts can tell the CLI's own lines from the steps' output.
 */
function runLive(args: string[], team?: string): { stdout: () => string; done: Promise<RunResult> } {
  let out = '';
  let err = '';
  const done = runCli(
    // The second team has its own target (beforeAll); main is the default one.
    team === undefined ? args : ['-t', team, ...args],
    {
      stdout: { write: (s: string) => (out += s) },
      stderr: { write: (s: string) => (err += s) },
      stdin: Readable.from([]),
      env: cli.env,
      isTTY: true,
    },
    { client: { reconnectDelayMs: 10 } },
  ).then((code) => ({ code, stdout: out, stderr: err }));
  return { stdout: () => out, done };
}

async function run(args: string[], team?: string): Promise<RunResult> {
  return withTimeout(runLive(args, team).done, `outpost ${args.join(' ')}`);
}

function shown(result: RunResult): string {
  return `exit ${result.code}\n--- stdout\n${unstyled(result.stdout)}--- stderr\n${unstyled(result.stderr)}`;
}

/** The first unmet expectation of a watched build, or undefined; `job` when it was started by trigger-job. */
function checkBuild(
  result: RunResult,
  expect: BuildExpectation,
  job: string | undefined,
): string | undefined {
  const lines = parseOutput(result.stdout);
  if (job !== undefined && !lines[0]?.text.startsWith(`started ${job} #`))
    return `first line ${JSON.stringify(lines[0]?.text)}, expected "started ${job} #N"`;
  // The result first (as the suite's fly helper does), with the lines before it as a hint.
  const last = lines.at(-1);
  const before = lines
    .slice(-4, -1)
    .map((l) => l.text)
    .join(' | ');
  if (last?.kind !== 'rendered' || last.text !== expect.status || result.code !== expect.exit)
    return `ended "${last?.text ?? ''}" exit ${result.code}, expected "${expect.status}" exit ${expect.exit} (after: ${before})`;
  return checkLines(lines, expect);
}

/** The build `started JOB #N` names in a trigger's output. */
function startedName(stdout: string): string | undefined {
  return /^started \S+ #(\S+)$/m.exec(unstyled(stdout))?.[1];
}

/** Polls the live output until `found` says yes; fails when the command ends first or time runs out. */
async function waitForOutput(
  live: ReturnType<typeof runLive>,
  found: (lines: OutputLine[]) => boolean,
  what: string,
): Promise<void> {
  const deadline = Date.now() + BUILD_TIMEOUT_MS;
  const watching = { ended: undefined as RunResult | undefined };
  void live.done.then((r) => (watching.ended = r));
  while (!found(parseOutput(live.stdout()))) {
    if (watching.ended !== undefined || Date.now() > deadline) {
      const evidence = watching.ended ? shown(watching.ended) : `(still running)\n${unstyled(live.stdout())}`;
      throw new CaseFailure(`no ${what}`, evidence);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The hub's summary of a pipeline's job build. */
async function buildSummary(pipeline: string, job: string, name: string): Promise<BuildSummary> {
  const route = `/teams/main/pipelines/${pipeline}/jobs/${job}/builds/${name}`;
  const res = await (hub as TestHub).api<BuildSummary>('GET', route);
  if (res.status !== 200) throw new CaseFailure(`GET ${route}: HTTP ${res.status}`);
  return res.body;
}

async function act(casePipeline: string, action: Action): Promise<void> {
  const sub = (s: string) => s.replaceAll('{P}', casePipeline);
  // The pipeline and team the action names, else the case's pipeline in main.
  const pipeline =
    'pipeline' in action && action.pipeline !== undefined ? sub(action.pipeline) : casePipeline;
  const team = 'team' in action ? action.team : undefined;
  switch (action.do) {
    case 'set-pipeline': {
      const source = readFileSync(path.join(CORPUS_DIR, action.fixture), 'utf8');
      const done = interpolate(source, { ...SUITE_VARS, ...action.vars }, action.fixture);
      if (done.diagnostics.length > 0)
        throw new CaseFailure(`interpolating ${action.fixture}: ${done.diagnostics[0]?.message ?? ''}`);
      const file = path.join(cli.dir, `${pipeline}-${action.fixture}`);
      await writeFile(file, done.source);
      const result = await run(['set-pipeline', '-p', pipeline, '-c', file, '-n'], team);
      if (result.code !== 0)
        throw new CaseFailure(`set-pipeline ${action.fixture}: exit ${result.code}`, shown(result));
      // As the suite does: set-pipeline, then unpause.
      await act(pipeline, { do: 'unpause', ...(team ? { team } : {}) });
      return;
    }
    case 'pause':
    case 'unpause':
    case 'expose': {
      const result = await run([`${action.do}-pipeline`, '-p', pipeline], team);
      if (result.code !== 0)
        throw new CaseFailure(`${action.do}-pipeline: exit ${result.code}`, shown(result));
      return;
    }
    case 'trigger': {
      const job = `${pipeline}/${action.job}`;
      const live = runLive(['trigger-job', '-j', job, '-w'], team);
      if (action.abortAfterLine !== undefined) {
        const want = action.abortAfterLine;
        await waitForOutput(
          live,
          (lines) => checkLines(lines, { inOrder: [want] }) === undefined,
          `${action.job}: output line "${want}" to abort after`,
        );
        const name = startedName(live.stdout()) ?? '1';
        const abort = await run(['abort-build', '-j', job, '-b', name], team);
        if (abort.code !== 0)
          throw new CaseFailure(`abort-build -b ${name}: exit ${abort.code}`, shown(abort));
      }
      const result = await withTimeout(live.done, `trigger-job -j ${job} -w`);
      if (VERBOSE) console.log(`=== trigger-job -j ${job} -w\n${shown(result)}`);
      const problem = checkBuild(result, action.expect, job);
      if (problem !== undefined) throw new CaseFailure(`${action.job}: ${problem}`, shown(result));
      return;
    }
    case 'start': {
      const job = `${pipeline}/${action.job}`;
      const live = runLive(['trigger-job', '-j', job, '-w']);
      await waitForOutput(live, () => startedName(live.stdout()) !== undefined, `"started ${job} #N"`);
      background.set(action.as, { job: action.job, name: startedName(live.stdout()) ?? '', live });
      return;
    }
    case 'still-running': {
      const started = backgroundBuild(action.build);
      const ended = await Promise.race([
        started.live.done,
        new Promise<undefined>((r) => setTimeout(() => r(undefined), action.forMs)),
      ]);
      if (ended !== undefined)
        throw new CaseFailure(`${action.build}: ended within ${action.forMs} ms`, shown(ended));
      return;
    }
    case 'await': {
      const started = backgroundBuild(action.build);
      const result = await withTimeout(started.live.done, `watching ${action.build}`);
      if (VERBOSE) console.log(`=== ${action.build} (trigger-job -j ${started.job} -w)\n${shown(result)}`);
      const problem = checkBuild(result, action.expect, `${pipeline}/${started.job}`);
      if (problem !== undefined) throw new CaseFailure(`${action.build}: ${problem}`, shown(result));
      return;
    }
    case 'one-at-a-time': {
      const builds = await Promise.all(
        action.builds.map(async (b) => {
          const started = backgroundBuild(b);
          return { b, started, summary: await buildSummary(pipeline, started.job, started.name) };
        }),
      );
      builds.sort((x, y) => (x.summary.startedAt ?? 0) - (y.summary.startedAt ?? 0));
      for (const [i, later] of builds.entries()) {
        const earlier = builds[i - 1];
        if (earlier === undefined) continue;
        const { startedAt } = later.summary;
        const { endedAt } = earlier.summary;
        if (startedAt === null || endedAt === null || startedAt < endedAt)
          throw new CaseFailure(
            `${later.b} started at ${startedAt ?? 'never'}, before ${earlier.b} ended (${endedAt ?? 'never'})`,
          );
        const waited = checkLines(parseOutput(later.started.live.stdout()), { inOrder: [action.waitLine] });
        if (waited !== undefined)
          throw new CaseFailure(`${later.b} ran after ${earlier.b} but did not say it waited: ${waited}`);
      }
      return;
    }
    case 'fetched': {
      const summary = await buildSummary(pipeline, action.job, action.build);
      const events = await readBuildEvents(hub as TestHub, summary.id);
      const versions = events
        .filter((e) => e.event === 'finish-get')
        .map((e) => (e.data.version as Record<string, string> | undefined)?.version);
      if (JSON.stringify(versions) !== JSON.stringify(action.versions))
        throw new CaseFailure(
          `${action.job} #${action.build} got versions ${JSON.stringify(versions)}, expected ${JSON.stringify(action.versions)}`,
        );
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
      const result = await run(args, team);
      if (VERBOSE) console.log(`=== ${args.join(' ')}\n${shown(result)}`);
      const problem = commandProblem(result, action.expect);
      if (problem !== undefined) throw new CaseFailure(`${args[0] ?? ''}: ${problem}`, shown(result));
      return;
    }
    case 'watch': {
      const args = ['watch', '-j', `${pipeline}/${action.job}`];
      if (action.build !== undefined) args.push('-b', action.build);
      const result = await run(args);
      if (VERBOSE) console.log(`=== ${args.join(' ')}\n${shown(result)}`);
      const problem = checkBuild(result, action.expect, undefined);
      if (problem !== undefined)
        throw new CaseFailure(`watch ${action.job} #${action.build ?? 'latest'}: ${problem}`, shown(result));
      return;
    }
    case 'rerun': {
      const job = `${pipeline}/${action.job}`;
      const result = await run(['rerun-build', '-j', job, '-b', action.build, '-w']);
      if (VERBOSE) console.log(`=== rerun-build -j ${job} -b ${action.build} -w\n${shown(result)}`);
      const named = startedName(result.stdout);
      if (named !== action.name)
        throw new CaseFailure(
          `rerun of #${action.build} is #${named ?? '?'}, expected #${action.name}`,
          shown(result),
        );
      const problem = checkBuild(result, action.expect, job);
      if (problem !== undefined) throw new CaseFailure(`rerun #${action.build}: ${problem}`, shown(result));
      return;
    }
    case 'clear-task-cache':
    case 'rename': {
      const args =
        action.do === 'rename'
          ? ['rename-pipeline', '-o', pipeline, '-n', sub(action.to)]
          : ['clear-task-cache', '-j', `${pipeline}/${action.job}`, '-s', action.step, '-n'];
      const result = await run(args);
      if (VERBOSE) console.log(`=== ${args.join(' ')}\n${shown(result)}`);
      const expected = {
        ...action.expect,
        ...(action.expect.inOrder
          ? { inOrder: action.expect.inOrder.map((e) => (typeof e === 'string' ? sub(e) : e)) }
          : {}),
      };
      const problem = commandProblem(result, expected);
      if (problem !== undefined) throw new CaseFailure(`${args[0] ?? ''}: ${problem}`, shown(result));
      return;
    }
    case 'execute': {
      const dir = await mkdtemp(path.join(cli.dir, `${pipeline}-execute-`));
      const args = ['execute', '-c', path.join(dir, 'task.yml'), ...(action.flags ?? [])];
      await writeFile(path.join(dir, 'task.yml'), action.task);
      if (action.inputsFrom !== undefined) args.push('-j', `${pipeline}/${action.inputsFrom}`);
      for (const [name, files] of Object.entries(action.inputs ?? {})) {
        await mkdir(path.join(dir, name));
        for (const [file, text] of Object.entries(files)) await writeFile(path.join(dir, name, file), text);
        args.push('-i', `${name}=${path.join(dir, name)}`);
      }
      if (action.varsFile !== undefined) {
        await writeFile(path.join(dir, 'vars.yml'), action.varsFile);
        args.push('-l', path.join(dir, 'vars.yml'));
      }
      const result = await run(args);
      if (VERBOSE) console.log(`=== ${args.join(' ')}\n${shown(result)}`);
      const problem = checkBuild(result, action.expect, undefined);
      if (problem !== undefined) throw new CaseFailure(`execute: ${problem}`, shown(result));
      return;
    }
    case 'builds': {
      const result = await run(['builds', '-p', pipeline], team);
      if (result.code !== 0) throw new CaseFailure(`builds -p: exit ${result.code}`, shown(result));
      const rows = parseOutput(result.stdout).map((l) => l.text.trim().split(/\s{2,}/));
      const named = rows.filter((cells) => cells.some((c) => c.startsWith(`${pipeline}/`)));
      for (const cell of action.contains.map(sub))
        if (!named.some((cells) => cells.includes(cell)))
          throw new CaseFailure(`builds: no row with "${cell}"`, shown(result));
      for (const cell of (action.absent ?? []).map(sub))
        if (named.some((cells) => cells.includes(cell)))
          throw new CaseFailure(`builds: a row with "${cell}"`, shown(result));
      if (action.rows !== undefined && named.length !== action.rows)
        throw new CaseFailure(
          `builds: ${named.length} rows for the pipeline, expected ${action.rows}`,
          shown(result),
        );
      return;
    }
    case 'builds-of-team': {
      const result = await run(['builds', `--team=${action.of}`, '--count=1000']);
      if (result.code !== 0) throw new CaseFailure(`builds --team: exit ${result.code}`, shown(result));
      const rows = parseOutput(result.stdout).map((l) => l.text.trim().split(/\s{2,}/));
      for (const p of action.contains.map(sub))
        if (!rows.some((cells) => cells.some((c) => c.startsWith(`${p}/`)) && cells.at(-1) === action.of))
          throw new CaseFailure(
            `builds --team=${action.of}: no row of ${p} in team ${action.of}`,
            shown(result),
          );
      for (const p of action.absent.map(sub))
        if (rows.some((cells) => cells.some((c) => c.startsWith(`${p}/`))))
          throw new CaseFailure(`builds --team=${action.of}: a row of ${p}`, shown(result));
      return;
    }
    case 'builds-window': {
      const job = `${pipeline}/${action.job}`;
      const listed = async (flags: string[]): Promise<BuildSummary[]> => {
        const result = await run(['builds', '-j', job, '--json', ...flags], team);
        if (result.code !== 0)
          throw new CaseFailure(`builds ${flags.join(' ')}: exit ${result.code}`, shown(result));
        return JSON.parse(result.stdout) as BuildSummary[];
      };
      const all = await listed([]);
      // fly's flags have whole seconds: the window is [4th newest's second - 1 s, 2nd newest's second + 1 s].
      const second = (b: BuildSummary | undefined) => Math.floor((b?.startedAt ?? NaN) / 1000) * 1000;
      const since = second(all[3]) - 1000;
      const until = second(all[1]) + 1000;
      if (Number.isNaN(since) || Number.isNaN(until))
        throw new CaseFailure(`builds-window: ${all.length} started builds, the window needs 4`);
      const inWindow = all.filter(
        (b) => b.startedAt !== null && b.startedAt >= since && b.startedAt <= until,
      );
      const got = await listed([`--since=${localDateTime(since)}`, `--until=${localDateTime(until)}`]);
      const ids = (bs: BuildSummary[]) => bs.map((b) => b.id).sort((x, y) => x - y);
      if (JSON.stringify(ids(got)) !== JSON.stringify(ids(inWindow)))
        throw new CaseFailure(
          `builds --since/--until gave builds ${ids(got).join(',')}, expected ${ids(inWindow).join(',')}`,
        );
      if (![1, 2, 3].every((i) => got.some((b) => b.id === all[i]?.id)))
        throw new CaseFailure('builds --since/--until left out one of the 2nd to 4th newest builds');
      return;
    }
  }
}

/** fly's --since/--until format, in local time. */
function localDateTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function backgroundBuild(name: string): BackgroundBuild {
  const started = background.get(name);
  if (started === undefined) throw new CaseFailure(`no build started as "${name}" (scenario bug)`);
  return started;
}

function commandProblem(result: RunResult, expect: CommandExpectation): string | undefined {
  if (result.code !== expect.exit) return `exit ${result.code}, expected ${expect.exit}`;
  return checkLines([...parseOutput(result.stdout), ...parseOutput(result.stderr)], expect);
}

async function runScenario(fixture: string, scenario: Scenario): Promise<void> {
  const pipeline = `tf-${fixture.replace(/\.yml$/, '').replaceAll('_', '-')}-${scenario.name}`;
  for (const action of scenario.actions) await act(pipeline, action);
}

function table(): string {
  const header = ['fixture', 'class', 'result', 'reason'];
  const body = FIXTURES.map((f) => {
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
  if (!corpusPresent) return;
  hub = await startTestHub();
  const started = hub;
  const pools = '  - name: local\n    platform: linux\n    capacity: 8';
  agents.push(await startTestAgent(started, { name: 'agent-1', pools }));
  await Promise.all(agents.map((a) => a.welcomed));
  cli = await sandbox();
  const login = await cli.run(['login', '--url', started.url, '--token', started.adminToken]);
  if (login.code !== 0) throw new Error(`login failed: ${shown(login)}`);
  // Concourse's suite works in team `testflight` as a member user, and in `main` as its admin.
  const password = 'testflight-password-1';
  for (const [args, stdin] of [
    [['set-user', '-u', SECOND_TEAM], password],
    [
      ['set-team', '-n', SECOND_TEAM, '--local-user', `member=${SECOND_TEAM}`, '--non-interactive'],
      undefined,
    ],
    [
      ['login', '-t', SECOND_TEAM, '--url', started.url, '-n', SECOND_TEAM, '-u', SECOND_TEAM, '-p', '-'],
      password,
    ],
  ] as const) {
    const done = await cli.run([...args], stdin === undefined ? {} : { stdin });
    if (done.code !== 0) throw new Error(`${args[0]} failed: ${shown(done)}`);
  }
}, 60_000);

afterAll(async () => {
  if (corpusPresent) {
    const count = (o: Outcome) => FIXTURES.filter((f) => rows.get(f)?.result === o).length;
    const evidence = FIXTURES.map((f) => rows.get(f))
      .filter((r): r is Row => r?.result === 'fail' && r.evidence !== undefined)
      .map((r) => `=== ${r.fixture}: ${r.reason}\n${r.evidence ?? ''}`);
    console.log(`conformance: ${count('pass')} pass, ${count('partial')} partial of ${FIXTURES.length}`);
    console.log(table());
    if (VERBOSE && evidence.length > 0) console.log(evidence.join('\n'));
  }
  for (const a of agents) await a.stop();
  await hub?.close();
}, 60_000);

describe('testflight conformance', () => {
  corpusRequired('conformance');

  it.skipIf(!corpusPresent)('finds the fixtures', () => {
    expect(FIXTURES.length).toBeGreaterThan(0);
  });

  it.skipIf(!corpusPresent)('classifies every fixture', () => {
    const unclassified = FIXTURES.filter((f) => PLANS[f] === undefined);
    expect(unclassified, 'add these fixtures to scenarios.ts').toEqual([]);
  });

  for (const fixture of FIXTURES) {
    const plan = PLANS[fixture];
    const klass = classes.get(fixture) ?? '?';
    if (plan === undefined) {
      rows.set(fixture, { fixture, klass, result: 'not-run', reason: 'not classified in scenarios.ts' });
      continue;
    }
    it(
      fixture,
      async () => {
        for (const scenario of plan.scenarios) {
          background.clear();
          try {
            await runScenario(fixture, scenario);
          } catch (err) {
            const failure =
              err instanceof CaseFailure
                ? new CaseFailure(`${scenario.name}: ${err.message}`, err.evidence)
                : new CaseFailure(`${scenario.name}: ${err instanceof Error ? err.message : String(err)}`);
            rows.set(fixture, {
              fixture,
              klass,
              result: 'fail',
              reason: failure.message,
              ...(failure.evidence !== undefined ? { evidence: failure.evidence } : {}),
            });
            throw new Error(`${fixture}: ${failure.message}\n${failure.evidence ?? ''}`, { cause: err });
          }
        }
        const unchecked = plan.unchecked ?? [];
        rows.set(fixture, {
          fixture,
          klass,
          result: unchecked.length > 0 ? 'partial' : 'pass',
          reason: unchecked.length > 0 ? `not checked: ${unchecked.join('; ')}` : (plan.note ?? ''),
        });
      },
      plan.timeoutMs ?? 90_000,
    );
  }
});
