// Closing a hub while a build is busy (steps ending, the next ones being created): close() stops the
// engine before it closes the store, so nothing rejects unhandled and the build is not marked errored;
// the hub started again on the data directory resumes it and it succeeds, every step once.

import { afterEach, describe, expect, it } from 'vitest';
import {
  capturingLogger,
  finalStatus,
  readBuildEvents,
  restartTestHub,
  setPipeline,
  startTestAgent,
  startTestHub,
  triggerJob,
  waitForEvents,
  type TestHub,
} from '../support/harness.js';
import type { HubOptions } from '../../hub/hub.js';
import { postgresDatabases, postgresSkip } from '../support/store-backends.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const STEPS = 40;

/** One job of STEPS quick tasks in a row: the engine is always between two steps' store writes. */
function manyStepsPipeline(): string {
  const steps = Array.from(
    { length: STEPS },
    (_, i) => `  - task: t${i}
    config:
      platform: linux
      run: { path: sh, args: ['-c', 'echo step-${i}'] }
`,
  ).join('');
  return `jobs:\n- name: job\n  plan:\n${steps}`;
}

/** The hub's store: SQLite in its data directory, and PostgreSQL when it can run here. */
const backends: [string, () => Promise<Partial<HubOptions>>][] = [['sqlite', () => Promise.resolve({})]];
if (postgresSkip('closing a hub on PostgreSQL under a build') === undefined) {
  const database = postgresDatabases();
  backends.push(['postgresql', async () => ({ databaseUrl: await database() })]);
}

describe.each(backends)('hub close under a running build (%s)', (_name, storeOptions) => {
  it('rejects nothing unhandled, loses no build, and the next start finishes it', async () => {
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    cleanups.push(() => void process.off('unhandledRejection', onRejection));

    const captured = capturingLogger();
    const state: { hub: TestHub } = { hub: await startTestHub(await storeOptions(), captured.log) };
    const agent = await startTestAgent(state.hub);
    cleanups.push(async () => {
      await agent.stop();
      await state.hub.close();
    });
    await agent.welcomed;
    await setPipeline(state.hub, 'many', manyStepsPipeline());
    const id = await triggerJob(state.hub, 'many', 'job');
    // Some steps done, most to come: the build is between steps when the hub closes.
    await waitForEvents(state.hub, id, 'step-3\\n');
    await state.hub.stop();
    // What a rejection after close would have hit has had its turn (the store is gone by now).
    await new Promise((resolve) => setImmediate(resolve));

    expect(rejections.map((r) => String(r))).toEqual([]);
    expect(captured.lines.filter((l) => l.msg === 'build failed inside the engine')).toEqual([]);
    // A clean stop logs no error for the operator: each agent session stored its end before the store closed.
    expect(captured.lines.filter((l) => Number(l.level) >= 50).map((l) => l.msg)).toEqual([]);

    state.hub = await restartTestHub(state.hub);
    const events = await readBuildEvents(state.hub, id);
    expect(finalStatus(events)).toBe('succeeded');
    const finished = events.filter((e) => e.event === 'finish-task');
    expect(finished).toHaveLength(STEPS);
    expect(new Set(finished.map((e) => (e.data.origin as { id: string }).id)).size).toBe(STEPS);
  }, 120_000);
});
