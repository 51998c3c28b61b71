import { beforeEach, describe, expect, it } from 'vitest';
import { storeBackends } from '../../test/support/store-backends.js';
import { buildWithSteps as stepsOf } from '../../test/support/store-builds.js';
import { formatEvent } from '../api/sse.js';
import type { BuildEvent, LogAppend, LogPositionRow, StepRun, Store } from './store.js';

let store: Store;

const buildWithSteps = (n: number, pipelineName = 'p') =>
  stepsOf(
    store,
    Array.from({ length: n }, (_, i) => `s${i + 1}`),
    pipelineName,
  );

const chunk = (stepRunId: number, seq: number, payload: string): LogAppend => ({
  stepRunId,
  seq,
  bytes: payload.length,
  event: { type: 'log', version: '5.1', data: { origin: { id: `step-${stepRunId}` }, payload } },
  at: 100 + seq,
});

/** A chunk as the gateway hands it over: its payload as bytes beside the data (migration 0026). */
const byteChunk = (stepRunId: number, seq: number, payload: Buffer): LogAppend => ({
  stepRunId,
  seq,
  bytes: payload.length,
  event: { type: 'log', version: '5.1', data: { origin: { id: `step-${stepRunId}` } } },
  payload,
  at: 100 + seq,
});

describe.each(storeBackends())('appendLogs (%s)', (_name, open) => {
  beforeEach(async () => {
    store = await open();
    return () => store.close();
  });

  it('stores a batch of several steps in order with the same dedup and gap answers as one by one', async () => {
    const { build, steps } = await buildWithSteps(2);
    const [one, two] = steps as [StepRun, StepRun];
    await store.appendBuildEvent(build.id, { type: 'status', version: '1.0', data: 'started', at: 1 });
    const results = await store.appendLogs([
      chunk(one.id, 1, 'a1'),
      chunk(two.id, 1, 'b1'),
      chunk(one.id, 2, 'a2'),
      chunk(one.id, 2, 'a2 again'), // duplicate within the batch
      chunk(two.id, 3, 'b3'), // gap
      chunk(two.id, 2, 'b2'),
    ]);
    expect(results.map((r) => r.kind)).toEqual(['stored', 'stored', 'stored', 'duplicate', 'gap', 'stored']);
    expect(results[4]).toEqual({ kind: 'gap', logSeq: 1 });
    // Event seqs continue the build's, without gaps, in batch order.
    expect(results.flatMap((r) => (r.kind === 'stored' ? [r.event.seq] : []))).toEqual([2, 3, 4, 5]);
    expect((await store.getStepRun(one.id))?.logSeq).toBe(2);
    expect((await store.getStepRun(two.id))?.logSeq).toBe(2);
    // A later batch and a single append agree with what the first one left.
    expect(
      (await store.appendLogs([chunk(one.id, 1, 'x'), chunk(one.id, 3, 'a3')])).map((r) => r.kind),
    ).toEqual(['duplicate', 'stored']);
    expect((await store.appendLog(chunk(two.id, 2, 'y'))).kind).toBe('duplicate');
    const events = await store.listBuildEvents(build.id, 0, 100);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(events.slice(1).map((e) => (JSON.parse(e.json) as { payload: string }).payload)).toEqual([
      'a1',
      'b1',
      'a2',
      'b2',
      'a3',
    ]);
  });

  it('stops storing a build at its cap, advances the seq anyway and stores one marker', async () => {
    const { build, steps } = await buildWithSteps(2);
    const [one, two] = steps as [StepRun, StepRun];
    const options = {
      maxBuildLogBytes: 10,
      truncationMarker: () => ({ type: 'log', version: '5.1', data: { payload: 'CUT' } }),
    };
    const first = await store.appendLogs([chunk(one.id, 1, '1234'), chunk(two.id, 1, '5678')], options);
    expect(first.map((r) => r.kind)).toEqual(['stored', 'stored']);
    const second = await store.appendLogs(
      [chunk(one.id, 2, '90'), chunk(one.id, 3, 'abc'), chunk(two.id, 2, 'd'), chunk(one.id, 3, 'dup')],
      options,
    );
    expect(second.map((r) => r.kind)).toEqual(['stored', 'truncated', 'truncated', 'duplicate']);
    expect(second[1]).toMatchObject({ kind: 'truncated', marker: { type: 'log' } });
    expect(second[2]).toEqual({ kind: 'truncated', marker: undefined });
    // Truncation survives across batches (it is on the build row): no second marker.
    const third = await store.appendLogs([chunk(two.id, 3, 'e')], options);
    expect(third).toEqual([{ kind: 'truncated', marker: undefined }]);
    expect((await store.getStepRun(one.id))?.logSeq).toBe(3);
    expect((await store.getStepRun(two.id))?.logSeq).toBe(3);
    const payloads = (await store.listBuildEvents(build.id, 0, 100)).map(
      (e) => (JSON.parse(e.json) as { payload: string }).payload,
    );
    expect(payloads).toEqual(['1234', '5678', '90', 'CUT']);
  });

  // What SSE sends and what the log pages read must not depend on which form a chunk was stored in.
  it('stores payload bytes beside the data and reads them as the same text, line index included', async () => {
    const { build, steps } = await buildWithSteps(1);
    const [one] = steps as [StepRun];
    // Escapes of every kind, multi-byte UTF-8, colours, and a line finished by the next chunk.
    const texts = [
      'plain "quoted" \\ back\tslash\n',
      'ünïcødé 🚀 \u0001\u001f\r\n\x1b[31mred',
      ' still red\n\n',
    ];
    const results = await store.appendLogs(texts.map((t, i) => byteChunk(one.id, i + 1, Buffer.from(t))));
    expect(results.map((r) => r.kind)).toEqual(['stored', 'stored', 'stored']);
    // The same log stored the old way (payload inside the JSON), in a second build.
    const old = await buildWithSteps(1, 'old');
    const [oldStep] = old.steps as [StepRun];
    await store.appendLogs(texts.map((t, i) => chunk(oldStep.id, i + 1, t)));
    const events = await store.listBuildEvents(build.id, 0, 100);
    const oldEvents = await store.listBuildEvents(old.build.id, 0, 100);
    expect(events.map((e) => (JSON.parse(e.json) as { payload: string }).payload)).toEqual(texts);
    expect(events.map((e) => e.logPayload?.bytes.toString())).toEqual(texts);
    expect(oldEvents.map((e) => e.logPayload)).toEqual([undefined, undefined, undefined]);
    // The event handed to live readers is the one read back later.
    expect(results.map((r) => (r.kind === 'stored' ? r.event.json : ''))).toEqual(events.map((e) => e.json));
    // SSE frames the bytes as it frames the text.
    const framed = (e: BuildEvent) =>
      (JSON.parse(formatEvent(e).toString().split('\ndata: ')[1]!) as { data: { payload: string } }).data
        .payload;
    expect(events.map(framed)).toEqual(texts);
    expect(oldEvents.map(framed)).toEqual(texts);
    // Line index: counted on the bytes as on the text.
    const strip = (rows: LogPositionRow[]) => rows.map(({ line, partial, sgr }) => ({ line, partial, sgr }));
    const positions = strip(await store.buildEvents.logPositions(build.id, 0, 100));
    expect(positions).toEqual(strip(await store.buildEvents.logPositions(old.build.id, 0, 100)));
    expect(positions.map((p) => [p.line, p.partial, p.sgr])).toEqual([
      [1, false, ''],
      [2, true, '\x1b[31m'],
      [4, false, '\x1b[31m'],
    ]);
  });

  // Two hubs' log writers at once (on PostgreSQL, two replicas), each batch touching both builds, in
  // opposite orders: neither waits on the other forever, and each build's seqs stay contiguous.
  it('takes concurrent batches over the same builds without deadlock or a seq taken twice', async () => {
    const x = await buildWithSteps(2, 'x');
    const y = await buildWithSteps(2, 'y');
    const [x1, x2] = x.steps as [StepRun, StepRun];
    const [y1, y2] = y.steps as [StepRun, StepRun];
    const writer = async (first: StepRun, second: StepRun) => {
      for (let seq = 1; seq <= 10; seq++)
        await store.appendLogs([chunk(first.id, seq, 'f'), chunk(second.id, seq, 's')]);
    };
    await Promise.all([writer(x1, y1), writer(y2, x2)]);
    for (const build of [x.build, y.build])
      expect((await store.listBuildEvents(build.id, 0, 100)).map((e) => e.seq)).toEqual(
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
  });
});
