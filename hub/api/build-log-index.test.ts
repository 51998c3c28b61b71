// The hub's index of where each step's log lines are: for every event, the line it starts on, whether that
// line was begun before, and the colours set above it, equal to what reading the whole log from the start
// gives, for payloads with escaped-looking text, colour codes (basic, 256-colour and true colour) cut
// across chunks, error messages, and two steps interleaved; read from the positions the store keeps as
// events are appended (both stores), and for a build from before those, from its events' text.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { storeBackends } from '../../test/support/store-backends.js';
import { SgrState } from '../log-text/sgr-state.js';
import { openSqliteDatabase, openSqliteStore } from '../store/sqlite.js';
import type { BuildEvent, Store } from '../store/store.js';
import { BuildLogIndex } from './build-log-index.js';

const ESC = '\x1b';
const chunks: [step: 'a' | 'b', text: string][] = [
  ['a', 'one\ntwo'],
  ['a', ' still two\\n is not a newline\\\nthree\n'],
  ['b', `"quoted" ${ESC}[1;31mred`],
  ['a', ''],
  ['b', ` and bold\nred line 2 ${ESC}[3`],
  ['b', `2mgreen ${ESC}[22m\n`],
  ['a', 'ünïcödé\\\\\n\n'],
  ['b', `${ESC}[0mplain\n`],
  ['a', `${ESC}[38;5;208morange ${ESC}[48;2;10;20;30mon navy`],
  ['b', 'no newline at the end'],
];

/** A build with steps a and b, and the chunks above (then an error of a) appended as the hub does. */
async function storeBuild(
  store: Store,
  upTo = chunks.length,
): Promise<{ buildId: number; more: () => Promise<void> }> {
  const team = await store.getTeam('main');
  const { pipeline } = await store.savePipeline({
    teamId: team!.id,
    name: 'p',
    source: 'jobs: []',
    jobs: [{ name: 'j', plan: { id: 'j', kind: 'do', steps: [] } }],
    at: 1,
  });
  const job = (await store.getJob(pipeline.id, 'j'))!;
  const build = await store.createBuild({ jobId: job.id, plan: job.plan, at: 1 });
  const runs = {
    a: await store.createStepRun({ buildId: build.id, planId: 'a', name: 'a', spec: null, at: 1 }),
    b: await store.createStepRun({ buildId: build.id, planId: 'b', name: 'b', spec: null, at: 1 }),
  };
  const logSeq = { a: 0, b: 0 };
  await store.appendBuildEvent(build.id, {
    type: 'status',
    version: '1.0',
    data: { status: 'started' },
    at: 1,
  });
  const append = async (from: number, to: number) => {
    // Two chunks at a time, as the hub's group commit stores them.
    for (let i = from; i < to; i += 2)
      await store.appendLogs(
        chunks.slice(i, Math.min(i + 2, to)).map(([step, payload]) => ({
          stepRunId: runs[step].id,
          seq: ++logSeq[step],
          bytes: payload.length,
          event: {
            type: 'log',
            version: '5.1',
            data: { origin: { id: step, source: 'stdout' }, payload, time: 1 },
          },
          at: 1,
        })),
      );
  };
  await append(0, upTo);
  return {
    buildId: build.id,
    more: async () => {
      await append(upTo, chunks.length);
      await store.appendBuildEvent(build.id, {
        type: 'error',
        version: '4.1',
        data: { origin: { id: 'a' }, message: 'boom', time: 2 },
        at: 2,
      });
    },
  };
}

/** Checks the index against the log read from the start, before every event. */
function expectAsReadFromTheStart(index: BuildLogIndex, all: BuildEvent[]): void {
  const text = new Map<string, string>();
  const sgr = new Map<string, SgrState>();
  for (const e of all) {
    const starts = index.startsAt(e.seq, e.seq);
    for (const [step, before] of text) {
      const lines = before.split('\n');
      expect(starts[step], `step ${step} before event ${e.seq}`).toEqual({
        line: lines.length - 1,
        partial: lines.at(-1) !== '',
        sgr: sgr.get(step)?.sequence(),
      });
    }
    const data = JSON.parse(e.json) as { origin?: { id: string }; payload?: string; message?: string };
    if (!data.origin) continue;
    const added = e.type === 'error' ? `${data.message}\n` : (data.payload ?? '');
    text.set(data.origin.id, (text.get(data.origin.id) ?? '') + added);
    if (!sgr.has(data.origin.id)) sgr.set(data.origin.id, new SgrState());
    sgr.get(data.origin.id)?.feed(added);
  }
}

describe.each(storeBackends())('build log index (%s)', (_name, open) => {
  let store: Store;
  beforeEach(async () => {
    store = await open();
    return () => store.close();
  });

  it('knows where every step stands before each event, as reading from the start does', async () => {
    const { buildId, more } = await storeBuild(store);
    await more();
    const index = new BuildLogIndex(store, buildId);
    await index.update();
    expectAsReadFromTheStart(index, await store.listBuildEvents(buildId, 0, 100));
    expect(index.startsAt(3, 3).b).toBeUndefined();
    expect(index.startsAt(5, 5).b?.sgr).toBe(`${ESC}[1;31m`);
    // ESC[3 at the end of one chunk, 2m at the start of the next: green, once both are read.
    expect(index.startsAt(7, 7).b?.sgr).toBe(`${ESC}[1;31m`);
    expect(index.startsAt(8, 8).b?.sgr).toBe(`${ESC}[32m`);
    expect(index.startsAt(10, 10).b?.sgr).toBe('');
    expect(index.startsAt(12, 12).a?.sgr).toBe(`${ESC}[38;5;208;48;2;10;20;30m`);
  });

  it('finds the event in which a line begins', async () => {
    const { buildId, more } = await storeBuild(store);
    await more();
    const index = new BuildLogIndex(store, buildId);
    await index.update();
    // a: "one\ntwo still two\\n is not a newline\\\nthree\nünïcödé\\\\\n\n…orange …on navyboom\n"
    expect(index.eventOfLine('a', 0)).toBe(2);
    expect(index.eventOfLine('a', 1)).toBe(2);
    expect(index.eventOfLine('a', 2)).toBe(3);
    expect(index.eventOfLine('a', 4)).toBe(8);
    expect(index.eventOfLine('a', 5)).toBe(10);
    expect(index.eventOfLine('a', 6)).toBeUndefined();
    expect(index.eventOfLine('b', 3)).toBe(11);
    expect(index.eventOfLine('b', 4)).toBeUndefined();
    expect(index.eventOfLine('c', 0)).toBeUndefined();
  });

  it('extends itself with the events stored since', async () => {
    const { buildId, more } = await storeBuild(store, 3);
    const index = new BuildLogIndex(store, buildId);
    await index.update();
    expect(index.startsAt(99, 99).a).toEqual({ line: 3, partial: false, sgr: '' });
    await more();
    await index.update();
    const whole = new BuildLogIndex(store, buildId);
    await whole.update();
    expect(index.startsAt(99, 99)).toEqual(whole.startsAt(99, 99));
    expect(index.startsAt(6, 99)).toEqual(whole.startsAt(6, 99));
    expectAsReadFromTheStart(index, await store.listBuildEvents(buildId, 0, 100));
  });
});

describe('build log index of a build from before positions were kept', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'outpost-log-index-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("reads the build's events and gets what reading from the start does", async () => {
    let store = await openSqliteStore({ dataDir: dir });
    const { buildId, more } = await storeBuild(store);
    await more();
    await store.close();
    // As migration 0019 leaves a build stored before it: no positions, listed as unindexed.
    const db = await openSqliteDatabase({ dataDir: dir });
    await db.deleteFrom('build_log_positions').execute();
    await db.deleteFrom('build_log_steps').execute();
    await db.insertInto('build_log_unindexed').values({ build_id: buildId }).execute();
    await db.destroy();
    store = await openSqliteStore({ dataDir: dir });
    try {
      expect(await store.buildEvents.logPositions(buildId, 0, 100)).toEqual([]);
      const index = new BuildLogIndex(store, buildId);
      await index.update();
      expectAsReadFromTheStart(index, await store.listBuildEvents(buildId, 0, 100));
      expect(index.eventOfLine('b', 3)).toBe(11);
    } finally {
      await store.close();
    }
  });
});
