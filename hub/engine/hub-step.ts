// Steps the hub runs itself (load_var, set_pipeline): they only read artifacts and write the hub's own
// state, so no agent is involved. Recorded as step runs like any other, so a replay restores their
// effect (a loaded var) instead of doing them again.

import type { ArtifactStore } from '../artifacts/store.js';
import type { PlanNode } from '../pipeline/plan.js';
import type { BuildRun, Result } from './build-run.js';
import type { Scope } from './scope.js';

const TERMINAL = new Set(['succeeded', 'failed', 'errored', 'aborted']);
export const MAX_HUB_STEP_FILE_BYTES = 4 * 1024 * 1024;

export type HubWork = { ok: true; result: unknown; log?: string } | { ok: false; error: string };

/**
 * Runs `work` once for `node` in `scope` as a step run named `name`; on a replay of a finished run,
 * calls `restore` with what the run left instead.
 */
export async function runOnHub(
  node: PlanNode,
  name: string,
  scope: Scope,
  build: BuildRun,
  work: () => Promise<HubWork>,
  restore: (result: unknown) => void,
): Promise<Result> {
  const id = scope.id(node.id);
  const existing = build.steps.get(id);
  if (existing && TERMINAL.has(existing.status)) {
    if (existing.status === 'succeeded') restore(existing.result);
    return existing.status as Result;
  }
  if (scope.signal.aborted) return 'aborted';
  const { store, now } = build.deps;
  const run =
    existing ??
    (await store.createStepRun({
      buildId: build.build.id,
      planId: id,
      name,
      spec: { hub: node.kind },
      at: now(),
    }));
  build.track(id, run);
  await build.event('initialize', { origin: { id } });
  await build.event('start', { origin: { id } });
  const outcome = await work().catch((err: unknown): HubWork => ({
    ok: false,
    error: (err as Error).message,
  }));
  if (outcome.ok && outcome.log)
    await build.event('log', { origin: { id, source: 'stdout' }, payload: outcome.log });
  await store.updateStepRun(run.id, null, {
    status: outcome.ok ? 'succeeded' : 'errored',
    error: outcome.ok ? null : outcome.error,
    result: outcome.ok ? outcome.result : null,
    endedAt: now(),
  });
  if (!outcome.ok) return build.fail(node, scope, outcome.error);
  restore(outcome.result);
  await build.event('finish', { origin: { id }, succeeded: true });
  return 'succeeded';
}

/** Reads `artifact/path` of the build, or says why it cannot. */
export async function readArtifactFile(
  artifacts: ArtifactStore,
  scope: Scope,
  file: { artifact: string; path: string },
): Promise<Buffer> {
  if (file.path === '') throw new Error(`file must be ARTIFACT/PATH, not "${file.artifact}"`);
  const bound = scope.artifacts.get(file.artifact);
  if (!bound)
    throw new Error(`${file.artifact}/${file.path}: no artifact named "${file.artifact}" in this build`);
  try {
    return await artifacts.readFile(bound.digest, file.path, MAX_HUB_STEP_FILE_BYTES);
  } catch (err) {
    throw new Error(`${file.artifact}/${file.path}: ${(err as Error).message}`, { cause: err });
  }
}
