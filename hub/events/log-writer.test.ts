import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHubMetrics } from '../metrics.js';
import { openSqliteStore } from '../store/sqlite.js';
import type { LogAppend, Store } from '../store/store.js';
import { buildWithSteps } from '../../test/support/store-builds.js';
import { BuildEvents } from './build-events.js';
import { formatBytes, LogWriter } from './log-writer.js';

let store: Store;
beforeEach(async () => {
  store = await openSqliteStore({ memory: true });
});
afterEach(async () => {
  await store.close();
});

async function steps(n: number): Promise<{ buildId: number; ids: number[] }> {
  const { build, steps } = await buildWithSteps(
    store,
    Array.from({ length: n }, (_, i) => `s${i}`),
  );
  return { buildId: build.id, ids: steps.map((s) => s.id) };
}

const chunk = (stepRunId: number, seq: number, payload: string): LogAppend => ({
  stepRunId,
  seq,
  bytes: Buffer.byteLength(payload),
  event: {
    type: 'log',
    version: '5.1',
    data: { origin: { id: `p${stepRunId}`, source: 'stdout' }, payload },
  },
  at: seq,
});

describe('LogWriter', () => {
  it('writes chunks queued together in one transaction and settles each with its own result', async () => {
    const { ids } = await steps(3);
    const metrics = createHubMetrics();
    const writer = new LogWriter(
      new BuildEvents(store),
      { maxBuildLogBytes: 0, maxBatchBytes: 1 << 20 },
      metrics,
      pino({ level: 'silent' }),
    );
    const pending = [];
    for (let seq = 1; seq <= 20; seq++)
      for (const id of ids) pending.push(writer.append(chunk(id, seq, `${id}:${seq}\n`)));
    pending.push(writer.append(chunk(ids[0]!, 5, 'again')));
    const results = await Promise.all(pending);
    expect(results.slice(0, 60).every((r) => r.kind === 'stored')).toBe(true);
    expect(results[60]).toEqual({ kind: 'duplicate' });
    const batches = (await metrics.logBatches.get()).values.find(
      (v) => v.metricName === 'outpost_hub_log_batch_chunks_count',
    );
    expect(batches?.value).toBe(1);
    expect(writer.pendingBytes).toBe(0);
  });

  it('splits at maxBatchBytes and applies the cap with one marker', async () => {
    const { buildId, ids } = await steps(1);
    const metrics = createHubMetrics();
    const writer = new LogWriter(
      new BuildEvents(store),
      { maxBuildLogBytes: 2048, maxBatchBytes: 1024 },
      metrics,
      pino({ level: 'silent' }),
    );
    const line = 'x'.repeat(255) + '\n';
    const results = await Promise.all(
      Array.from({ length: 16 }, (_, i) => writer.append(chunk(ids[0]!, i + 1, line))),
    );
    expect(results.filter((r) => r.kind === 'stored')).toHaveLength(8);
    expect(results.filter((r) => r.kind === 'truncated')).toHaveLength(8);
    const batches = (await metrics.logBatches.get()).values.find(
      (v) => v.metricName === 'outpost_hub_log_batch_chunks_count',
    );
    expect(batches?.value).toBe(4);
    const events = await store.listBuildEvents(buildId, 0, 100);
    const markers = events.filter((e) =>
      e.json.includes('build log exceeds 2 KiB; further output of this build is dropped'),
    );
    expect(markers).toHaveLength(1);
    expect(JSON.parse(markers[0]!.json)).toMatchObject({ origin: { id: `p${ids[0]}`, source: 'stderr' } });
    await writer.flush();
  });

  it('formats sizes', () => {
    expect([
      formatBytes(100),
      formatBytes(1536),
      formatBytes(100 * 1024 * 1024),
      formatBytes(1024 ** 3),
    ]).toEqual(['100 bytes', '1.5 KiB', '100 MiB', '1 GiB']);
  });
});
