// Runs one build's plan tree with Concourse's semantics. Composite nodes (do, in_parallel, try,
// timeout, retry, across, hooks) are evaluated here, in memory; leaves are step runs in the store.
//
// The walk is a replay: a leaf that already has a finished step run returns its stored result (and
// re-registers its outputs and vars) without running or emitting anything again. So a build resumed
// after a hub restart runs this same code from the top and continues where it stopped.

import type { Logger } from 'pino';
import type { BuildEvents, BuildEventType } from '../events/build-events.js';
import { eventTime } from '../events/build-events.js';
import { parseDuration } from '../../common/duration.js';
import type {
  AcrossPlan,
  AcrossVar,
  HookPlan,
  InParallelPlan,
  PlanNode,
  RetryPlan,
  TimeoutPlan,
} from '../pipeline/plan.js';
import { lookupVar, resolveVars, undefinedVarsMessage, type VarLookup } from '../pipeline/vars.js';
import type { Announcement, BuildView, StepRun, Store } from '../store/store.js';
import { CLUSTER_VAR_SOURCE, misplacedClusterVar, placeholderFor } from './cluster-secrets.js';
import { AbortReason, abortReasonOf, childSignal, type Scope } from './scope.js';

export type Result = 'succeeded' | 'failed' | 'errored' | 'aborted';

/** A leaf step kind's runner. Implementations live beside this file, one per kind. */
export interface LeafRunner<N extends PlanNode> {
  run(node: N, scope: Scope, run: BuildRun): Promise<Result>;
}

type LeafNode = Extract<
  PlanNode,
  { kind: 'task' | 'get' | 'put' | 'check' | 'set_pipeline' | 'load_var' | 'run' }
>;
/** Runners by leaf kind; each is handed only nodes of its own kind (method parameters are bivariant). */
export type LeafRunners = Partial<Record<LeafNode['kind'], LeafRunner<LeafNode>>>;

export interface BuildRunDeps {
  store: Store;
  events: BuildEvents;
  log: Logger;
  now: () => number;
  leaves: LeafRunners;
  /** Vars from the pipeline's var sources, by source name ('' for the default). */
  varSource: (ref: { source?: string; path: string }) => unknown;
  /** The type of the pipeline's var source of that name (`dummy`, `kubernetes`); undefined: none. */
  varSourceType?: (source: string) => string | undefined;
  /** Told about every step run the build creates. */
  tracked: (step: StepRun) => void;
}

/** The build's status event, stored with that status. */
export function statusAnnouncement(
  events: BuildEvents,
  buildId: number,
  status: 'started' | Result,
  at: number,
): Announcement {
  return events.announcement([{ buildId, type: 'status', data: { status, time: eventTime(at) } }]);
}

export class BuildRun {
  /** Step runs of this build by (suffixed) plan id, loaded once when the run starts. */
  readonly steps = new Map<string, StepRun>();
  /** When the build started, while its start is not being stored yet (deferStart). */
  private unstoredStart: number | undefined;
  /** Settles once the build's start is stored: every write of the build waits for it. */
  private startStored: Promise<void> = Promise.resolve();

  constructor(
    readonly build: BuildView,
    readonly deps: BuildRunDeps,
  ) {}

  /**
   * The pending build starts now; its start (status and event) is stored with its first write, which
   * for most builds is its first step run (withStart): one commit fewer per build. Until then the store
   * still says pending, and no step run of it exists, so a hub restart starts it afresh.
   */
  deferStart(at: number): void {
    this.unstoredStart = at;
  }

  /** Stores the build's start unless it is stored or being stored; resolves once it is. */
  started(): Promise<void> {
    const at = this.unstoredStart;
    if (at !== undefined) {
      this.unstoredStart = undefined;
      this.startStored = this.deps.store.updateBuild(
        this.build.id,
        { status: 'started', startedAt: at },
        statusAnnouncement(this.deps.events, this.build.id, 'started', at),
      );
    }
    return this.startStored;
  }

  /**
   * Runs a write of the build that can store its start in the same transaction: `write` gets the
   * start (its time and status event, to store first) when it is not stored yet, else undefined (and
   * runs once it is stored). A failed write stored nothing: the start is then stored on its own.
   */
  async withStart<T>(
    write: (start: { at: number; announcement: Announcement } | undefined) => Promise<T>,
  ): Promise<T> {
    const at = this.unstoredStart;
    if (at === undefined) {
      await this.startStored;
      return write(undefined);
    }
    this.unstoredStart = undefined;
    const written = write({
      at,
      announcement: statusAnnouncement(this.deps.events, this.build.id, 'started', at),
    });
    this.startStored = written.then(
      () => undefined,
      () => {
        this.unstoredStart = at;
        return this.started();
      },
    );
    // The caller has the write's failure; a failed retry is the next write's, which awaits it. With no
    // next write (a hub stopping closed its store), it must not end the process as an unhandled rejection.
    this.startStored.catch(() => undefined);
    return written;
  }

  /** Records a step run the build just created. */
  track(id: string, step: StepRun): void {
    this.steps.set(id, step);
    this.deps.tracked(step);
  }

  async load(): Promise<void> {
    for (const run of await this.deps.store.listStepRuns(this.build.id)) this.steps.set(run.planId, run);
  }

  async event(type: BuildEventType, data: Record<string, unknown>): Promise<unknown> {
    await this.started();
    return this.deps.events.emit(this.build.id, type, { ...data, time: eventTime(this.deps.now()) });
  }

  /** As `event`, to store with the state change it announces (BuildEvents.announcement). */
  announcement(type: BuildEventType, data: Record<string, unknown>): Announcement {
    return this.deps.events.announcement([
      { buildId: this.build.id, type, data: { ...data, time: eventTime(this.deps.now()) } },
    ]);
  }

  /** Whether the var source of that name is read by the agent from Secrets in its cluster. */
  isClusterSource(source: string): boolean {
    return this.deps.varSourceType?.(source) === CLUSTER_VAR_SOURCE;
  }

  /**
   * Resolves `((vars))` in a value for a step in `scope`; missing ones come back by name. A var of a
   * `kubernetes` source is never resolved here: it is an error (task params take it before this).
   * `secrets` are the credentials this value referenced: a step is given those to redact and no others,
   * so an agent never learns a secret of a step it does not run.
   */
  resolve(
    value: unknown,
    scope: Scope,
  ): { value: unknown; missing: string[]; errors: string[]; secrets: string[] } {
    const misplaced = new Set<string>();
    const secrets = new Set<string>();
    const lookup: VarLookup = (ref) => {
      if (ref.source === '.') {
        const local = scope.localVars.get(ref.path);
        // An unrevealed load_var masks each string read from it (Concourse tracks what is interpolated),
        // so `((.:creds.token))` is redacted while the items of a loaded list stay visible to across.
        if (local?.secret) {
          const at = lookupVar(ref, () => local.value);
          if (at.found && typeof at.value === 'string' && at.value.trim()) secrets.add(at.value);
        }
        return local?.value;
      }
      if (ref.source !== undefined && this.isClusterSource(ref.source)) {
        misplaced.add(misplacedClusterVar(ref));
        return placeholderFor(ref);
      }
      const found = this.deps.varSource(ref);
      // Everything a var source hands out is a credential: none of it may show up in logs.
      for (const secret of leafStrings(found)) secrets.add(secret);
      return found;
    };
    const resolved = resolveVars(value, lookup);
    return { ...resolved, errors: [...misplaced, ...resolved.errors], secrets: [...secrets] };
  }

  async run(node: PlanNode, scope: Scope): Promise<Result> {
    switch (node.kind) {
      case 'do':
        for (const step of node.steps) {
          const result = await this.run(step, scope);
          if (result !== 'succeeded') return result;
        }
        return 'succeeded';
      case 'in_parallel':
        return this.inParallel(node, scope);
      case 'artifact_input':
        // Plain data: bound again on every replay, so a resumed build sees it too.
        scope.artifacts.set(node.name, { digest: node.digest, size: node.size, agent: null });
        return 'succeeded';
      case 'try': {
        const result = await this.run(node.step, scope);
        return result === 'aborted' ? 'aborted' : 'succeeded';
      }
      case 'timeout':
        return this.timeout(node, scope);
      case 'retry':
        return this.retry(node, scope);
      case 'across':
        return this.across(node, scope);
      case 'on_success':
      case 'on_failure':
      case 'on_error':
      case 'on_abort':
      case 'ensure':
        return this.hook(node, scope);
      default:
        return this.leaf(node, scope);
    }
  }

  private async leaf(node: LeafNode, scope: Scope): Promise<Result> {
    const runner = this.deps.leaves[node.kind];
    if (!runner) return this.fail(node, scope, `${node.kind} steps are not supported yet`);
    // Only a task stores the build's start with its step run (task-step.ts); the others write first.
    if (node.kind !== 'task') await this.started();
    return runner.run(node, scope, this);
  }

  /** Errors a node with a message, as an `error` event. */
  async fail(node: PlanNode, scope: Scope, message: string): Promise<Result> {
    await this.event('error', { origin: { id: scope.id(node.id) }, message });
    return 'errored';
  }

  private async inParallel(node: InParallelPlan, scope: Scope): Promise<Result> {
    const group = childSignal(scope.signal);
    const branchScope = scope.withSignal(group.signal);
    const results = await runLimited(node.steps, node.limit, async (step) => {
      if (group.signal.aborted) return 'aborted';
      const result = await this.run(step, branchScope);
      if (node.failFast && (result === 'failed' || result === 'errored') && !isAborted(group.signal)) {
        group.abort(new AbortReason('fail-fast'));
      }
      return result;
    });
    group.dispose();
    return combine(results, scope.signal.aborted);
  }

  private async timeout(node: TimeoutPlan, scope: Scope): Promise<Result> {
    const resolved = this.resolve(node.duration, scope);
    const parsed = typeof resolved.value === 'string' ? parseDuration(resolved.value) : undefined;
    if (resolved.missing.length > 0) return this.fail(node, scope, undefinedVarsMessage(resolved.missing));
    if (resolved.errors.length > 0) return this.fail(node, scope, resolved.errors.join('; '));
    if (!parsed?.ok) return this.fail(node, scope, `invalid timeout ${JSON.stringify(resolved.value)}`);
    const inner = childSignal(scope.signal);
    // The clock starts when the step first started, so a hub restart does not give it more time.
    const startedAt = this.firstStart(node.step, scope) ?? this.deps.now();
    const timer = setTimeout(
      () => inner.abort(new AbortReason('timeout')),
      Math.max(0, startedAt + parsed.ms - this.deps.now()),
    );
    try {
      const result = await this.run(node.step, scope.withSignal(inner.signal));
      if (inner.signal.aborted && abortReasonOf(inner.signal).kind === 'timeout' && result === 'aborted')
        return 'failed';
      return result;
    } finally {
      clearTimeout(timer);
      inner.dispose();
    }
  }

  private async retry(node: RetryPlan, scope: Scope): Promise<Result> {
    let result: Result = 'succeeded';
    for (const attempt of node.attempts) {
      result = await this.run(attempt, scope);
      if (result === 'succeeded' || result === 'aborted' || scope.signal.aborted) return result;
    }
    return result;
  }

  private async across(node: AcrossPlan, scope: Scope): Promise<Result> {
    const vars: { spec: AcrossVar; values: unknown[]; limit: number }[] = [];
    for (const spec of node.vars) {
      const values = this.resolve(spec.values, scope);
      const limit = this.resolve(spec.maxInFlight, scope);
      const missing = [...values.missing, ...limit.missing];
      if (missing.length > 0) return this.fail(node, scope, undefinedVarsMessage(missing));
      const errors = [...values.errors, ...limit.errors];
      if (errors.length > 0) return this.fail(node, scope, errors.join('; '));
      if (!Array.isArray(values.value))
        return this.fail(node, scope, `across var "${spec.var}": values must be a list`);
      const n = limit.value === 'all' ? values.value.length : Number(limit.value) || 1;
      vars.push({ spec, values: values.value, limit: n });
    }
    const group = childSignal(scope.signal);
    const results: Result[] = [];
    // Nested loops, outermost var first, each with its own max_in_flight (Concourse's semantics).
    const level = async (depth: number, bound: Record<string, unknown>, suffix: string): Promise<Result> => {
      const current = vars[depth];
      if (!current) {
        const result = await this.run(
          node.step,
          scope.withSignal(group.signal).forCombination(bound, suffix),
        );
        if (node.failFast && (result === 'failed' || result === 'errored') && !isAborted(group.signal)) {
          group.abort(new AbortReason('fail-fast'));
        }
        results.push(result);
        return result;
      }
      const inner = await runLimited(current.values, current.limit, (value, i) =>
        group.signal.aborted
          ? Promise.resolve<Result>('aborted')
          : level(depth + 1, { ...bound, [current.spec.var]: value }, `${suffix}/${i}`),
      );
      return combine(inner, scope.signal.aborted);
    };
    const result = await level(0, {}, '@across');
    group.dispose();
    if (result === 'errored' && !scope.signal.aborted) await this.acrossErrored(node, scope);
    return result;
  }

  /**
   * As Concourse's across step (exec.LogError around it): its own `error` event after the erroring
   * combination's, with that step's message (read back only on this rare path).
   */
  private async acrossErrored(node: AcrossPlan, scope: Scope): Promise<void> {
    const inside = (run: StepRun) =>
      run.planId.startsWith(`${node.id}/`) && run.planId.includes(scope.id(''));
    const errored = (await this.deps.store.listStepRuns(this.build.id)).find(
      (run) => run.status === 'errored' && run.error !== null && inside(run),
    );
    await this.event('error', {
      origin: { id: scope.id(node.id) },
      message: errored?.error ?? 'a step across the values errored',
    });
  }

  private async hook(node: HookPlan, scope: Scope): Promise<Result> {
    const result = await this.run(node.step, scope);
    const fires =
      node.kind === 'ensure' ||
      (node.kind === 'on_success' && result === 'succeeded') ||
      (node.kind === 'on_failure' && result === 'failed') ||
      (node.kind === 'on_error' && result === 'errored') ||
      (node.kind === 'on_abort' && result === 'aborted');
    if (!fires) return result;
    // Hooks after an abort still run (that is what on_abort and ensure are for), under their own signal.
    const hookScope = scope.signal.aborted ? scope.withSignal(new AbortController().signal) : scope;
    const hookResult = await this.run(node.hook, hookScope);
    if (node.kind === 'on_success' || node.kind === 'ensure') {
      return result === 'succeeded' ? hookResult : result;
    }
    return hookResult === 'errored' && result !== 'aborted' ? 'errored' : result;
  }

  /** When the first step run inside `node` was created, if any (timeouts survive a restart). */
  private firstStart(node: PlanNode, scope: Scope): number | undefined {
    const prefix = node.id;
    let first: number | undefined;
    for (const [id, run] of this.steps) {
      if (
        id.startsWith(prefix) &&
        id.endsWith(scope.idSuffix) &&
        (first === undefined || run.createdAt < first)
      )
        first = run.createdAt;
    }
    return first;
  }
}

/** Runs `fn` over `items` with at most `limit` at once (0 = all at once), keeping result order. */
async function runLimited<T>(
  items: T[],
  limit: number,
  fn: (item: T, index: number) => Promise<Result>,
): Promise<Result[]> {
  const results: Result[] = new Array<Result>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T, i);
    }
  };
  const width = limit > 0 ? Math.min(limit, items.length) : items.length;
  await Promise.all(Array.from({ length: width }, worker));
  return results;
}

/** A group's result: aborted if the build was, else the worst of its parts. */
function combine(results: Result[], aborted: boolean): Result {
  if (aborted) return 'aborted';
  for (const worst of ['errored', 'failed', 'aborted'] as const) if (results.includes(worst)) return worst;
  return 'succeeded';
}

/** Read through a call, so a check after an await is not narrowed away by an earlier one. */
function isAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}

/** Every non-blank string inside a value (numbers and booleans would mask harmless output). */
export function leafStrings(value: unknown): string[] {
  if (typeof value === 'string') return value.trim() ? [value] : [];
  if (Array.isArray(value)) return value.flatMap(leafStrings);
  if (value && typeof value === 'object') return Object.values(value).flatMap(leafStrings);
  return [];
}
