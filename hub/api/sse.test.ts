import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BuildEvents } from '../events/build-events.js';
import { openSqliteStore } from '../store/sqlite.js';
import type { BuildEvent, LogAppend, Store } from '../store/store.js';
import { buildWithSteps } from '../../test/support/store-builds.js';
import { streamBuildEvents } from './sse.js';

const CHUNK = 64 * 1024;

let store: Store;
let events: BuildEvents;
let server: http.Server | undefined;
/** The store reads of the stream, each settled before the next starts. */
let reads: Promise<BuildEvent[]>[];

beforeEach(async () => {
  const opened = await openSqliteStore({ memory: true });
  reads = [];
  // The real store; its replay reads are counted (a reader that follows the live feed makes none).
  store = {
    ...opened,
    listBuildEvents: (...args) => {
      const read = opened.listBuildEvents(...args);
      reads.push(read);
      return read;
    },
  };
  store.close = () => opened.close();
  events = new BuildEvents(opened);
});

afterEach(async () => {
  server?.close();
  await store.close();
});

async function startedBuild(): Promise<{ buildId: number; stepRunId: number }> {
  const { build, steps } = await buildWithSteps(store, ['s']);
  return { buildId: build.id, stepRunId: steps[0]!.id };
}

/** `count` chunks of 64 KiB from log seq `from`, each made of its seq's digit. */
function chunks(stepRunId: number, from: number, count: number): LogAppend[] {
  return Array.from({ length: count }, (_, i) => {
    const payload = Buffer.alloc(CHUNK, String((from + i) % 10));
    payload[CHUNK - 1] = 0x0a;
    return {
      stepRunId,
      seq: from + i,
      bytes: CHUNK,
      event: { type: 'log', version: '5.1', data: { origin: { id: 's', source: 'stdout' }, time: 1 } },
      payload,
      at: 1,
    };
  });
}

/** Opens the build's stream with a reader that reads nothing until `resume` is called. */
async function pausedReader(buildId: number) {
  server = http.createServer((_req, res) => void streamBuildEvents(res, buildId, 0, store, events));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const res = await new Promise<http.IncomingMessage>((resolve) =>
    http.get({ port, host: '127.0.0.1' }, resolve),
  );
  res.pause();
  const body: Buffer[] = [];
  res.on('data', (b: Buffer) => body.push(b));
  const ended = once(res, 'end');
  // The stream's first replay from the store has found nothing: from here on, events come live.
  while (reads.length === 0) await new Promise((resolve) => setImmediate(resolve));
  await reads[0];
  await new Promise((resolve) => setImmediate(resolve));
  return {
    /** Reads to the end; returns each event's seq and log payload. */
    async resume(): Promise<{ seq: number; payload?: string }[]> {
      res.resume();
      await ended;
      return Buffer.concat(body)
        .toString()
        .split('\n\n')
        .filter((block) => block.startsWith('id: '))
        .map((block) => {
          const [id, , data] = block.split('\n');
          const envelope = JSON.parse(data!.slice('data: '.length)) as { data: { payload?: string } };
          return { seq: Number(id!.slice('id: '.length)), payload: envelope.data.payload };
        });
    },
  };
}

describe('build event stream', () => {
  it('keeps a reader that lags briefly on the live feed, without reading the store again', async () => {
    const { buildId, stepRunId } = await startedBuild();
    const reader = await pausedReader(buildId);
    // Two log batches (2 MiB) reach a reader that reads nothing meanwhile.
    await events.appendLogs(chunks(stepRunId, 1, 16));
    await events.appendLogs(chunks(stepRunId, 17, 16));
    await events.emit(buildId, 'status', { status: 'succeeded', time: 1 });
    const received = await reader.resume();
    expect(received.map((e) => e.seq)).toEqual(Array.from({ length: 33 }, (_, i) => i + 1));
    expect(received.slice(0, 32).map((e) => e.payload)).toEqual(
      chunks(stepRunId, 1, 32).map((c) => c.payload!.toString()),
    );
    expect(reads).toHaveLength(1);
  });

  it('moves a reader that lags far behind to the store, and it still gets every event once, in order', async () => {
    const { buildId, stepRunId } = await startedBuild();
    const reader = await pausedReader(buildId);
    // 20 MiB: more than the sockets' buffers (at most 4 MiB sent, and a reader that reads nothing does
    // not grow its receive buffer) and the backlog a reader may hold together.
    for (let seq = 1; seq <= 320; seq += 16) await events.appendLogs(chunks(stepRunId, seq, 16));
    await events.emit(buildId, 'status', { status: 'succeeded', time: 1 });
    const received = await reader.resume();
    expect(received.map((e) => e.seq)).toEqual(Array.from({ length: 321 }, (_, i) => i + 1));
    expect(received.slice(0, 320).map((e) => e.payload)).toEqual(
      chunks(stepRunId, 1, 320).map((c) => c.payload!.toString()),
    );
    expect(reads.length).toBeGreaterThan(1);
  });
});
