// The hub's marks of a build (build created, step run created and leased, Started stored, the step's and
// the build's ends stored), on the clock shared by processes (support.ts sharedClockMs), from a hub that
// runs as users run it: `node dist/hub/main.js`, a process of its own (bench/build.ts).
//
// A preload wraps the store's methods that make those writes (the prototypes of KyselyBuilds and
// KyselyStepRuns in dist/, before the hub builds its store from them) and notes when each call's promise
// resolved; the marks are written to a file when the hub exits (its SIGTERM stop). The preload is a
// `data:` module of plain JavaScript, so the hub child runs without tsx (no TypeScript loader, no source
// map support) as users run it. Its cost per mark: one array push, after the write resolved.
//
// The in-process hub (the --postgres and --memory rows) gets the same marks from markStoreCalls.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { RunningHub } from '../hub/hub.js';
import { sharedClockMs } from './support.js';

/** A hub mark (`built`, `leased`, `startStored`, `stepEndStored`, `buildEndStored`) and when it happened. */
export type HubMark = [key: string, at: number];

const DIST_STORE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'hub', 'store');

/** Node.js flags that make a `node dist/hub/main.js` child write its marks to `file` (JSON) on exit. */
export function hubMarksNodeArgs(file: string): string[] {
  const url = (name: string) => JSON.stringify(pathToFileURL(path.join(DIST_STORE, name)).href);
  const source = `
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { KyselyBuilds } from ${url('kysely-builds.js')};
import { KyselyStepRuns } from ${url('kysely-step-runs.js')};
const marks = [];
const wrap = (proto, name, key) => {
  const original = proto[name];
  if (typeof original !== 'function') throw new Error('hub marks: no store method ' + name);
  proto[name] = async function (...args) {
    const result = await original.apply(this, args);
    const k = key(...args);
    if (k) marks.push([k, performance.timeOrigin + performance.now()]);
    return result;
  };
};
wrap(KyselyBuilds.prototype, 'createBuild', () => 'built');
wrap(KyselyStepRuns.prototype, 'createStepRun', () => 'leased');
wrap(KyselyStepRuns.prototype, 'markStepProcessStarted', () => 'startStored');
wrap(KyselyStepRuns.prototype, 'updateStepRun', (_id, _lease, patch) =>
  patch.endedAt === undefined ? undefined : 'stepEndStored');
wrap(KyselyBuilds.prototype, 'updateBuild', (_id, patch) =>
  patch.endedAt === undefined ? undefined : 'buildEndStored');
process.on('exit', () => writeFileSync(${JSON.stringify(file)}, JSON.stringify(marks)));
`;
  return [`--import=data:text/javascript,${encodeURIComponent(source)}`];
}

/** The marks a hub child wrote on exit; undefined if it wrote none (it did not exit on its own). */
export async function readHubMarks(file: string): Promise<HubMark[] | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as HubMark[];
  } catch {
    return undefined;
  }
}

/** The same marks from an in-process hub's store, pushed to `marks` (the first wrapper of each call). */
export function markStoreCalls(store: RunningHub['store'], marks: HubMark[]): void {
  const wrap = <
    K extends 'createBuild' | 'createStepRun' | 'markStepProcessStarted' | 'updateStepRun' | 'updateBuild',
  >(
    name: K,
    key: (...args: Parameters<RunningHub['store'][K]>) => string | undefined,
  ) => {
    const original = (store[name] as (...args: unknown[]) => Promise<unknown>).bind(store);
    (store[name] as (...args: unknown[]) => Promise<unknown>) = async (...args: unknown[]) => {
      const result = await original(...args);
      const k = key(...(args as Parameters<RunningHub['store'][K]>));
      if (k) marks.push([k, sharedClockMs()]);
      return result;
    };
  };
  wrap('createBuild', () => 'built');
  wrap('createStepRun', () => 'leased');
  wrap('markStepProcessStarted', () => 'startStored');
  wrap('updateStepRun', (_id, _lease, patch) => (patch.endedAt === undefined ? undefined : 'stepEndStored'));
  wrap('updateBuild', (_id, patch) => (patch.endedAt === undefined ? undefined : 'buildEndStored'));
}

/**
 * Adds each hub mark to the build whose trigger came last before it (builds run one at a time), the
 * first mark of each kind per build, as the in-process bench always did. `triggers`: every build's
 * trigger time, warmup included; `builds`: the measured ones' marks, by trigger time.
 */
export function attributeHubMarks(
  marks: HubMark[],
  triggers: number[],
  builds: Map<number, Map<string, number>>,
): void {
  const sorted = [...triggers].sort((a, b) => a - b);
  for (const [key, at] of [...marks].sort((a, b) => a[1] - b[1])) {
    let owner: number | undefined;
    for (const t of sorted) {
      if (t > at) break;
      owner = t;
    }
    const build = owner === undefined ? undefined : builds.get(owner);
    if (build && !build.has(key)) build.set(key, at);
  }
}
