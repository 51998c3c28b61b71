// Issue #6 item 5, the hub's side: a build's log has a cap with one visible marker, an oversized
// message ends only the session that sent it, and an agent spraying logs is throttled while the API and
// other agents' builds keep moving.

import { afterEach, describe, expect, it } from 'vitest';
import { Platform } from '../../proto/gen/outpost/v1/agent.js';
import {
  finalStatus,
  logText,
  readBuildEvents,
  setPipeline,
  shellPipeline,
  startTestAgent,
  startTestHub,
  triggerJob,
  type TestHub,
  scrapeMetrics,
} from '../support/harness.js';
import { rawAgent, stdoutMessage, type RawAgent } from '../support/raw-agent.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function hubWith(overrides: Parameters<typeof startTestHub>[0]): Promise<TestHub> {
  const hub = await startTestHub(overrides);
  cleanups.push(() => hub.close());
  return hub;
}

async function waitForBuild(hub: TestHub, id: number, timeoutMs = 25_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { body } = await hub.api<{ status: string }>('GET', `/builds/${id}`);
    if (['succeeded', 'failed', 'errored', 'aborted'].includes(body.status)) return body.status;
    if (Date.now() > deadline) throw new Error(`build ${id} still ${body.status}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const MARKER = /outpost: build log exceeds 256 KiB; further output of this build is dropped\n/g;

describe('per-build log cap', () => {
  it('stores up to the cap, shows one marker, acknowledges the rest and lets the build finish', async () => {
    const cap = 256 * 1024;
    const hub = await hubWith({ maxBuildLogBytes: cap });
    const agent = await startTestAgent(hub);
    cleanups.push(() => agent.stop());
    await agent.welcomed;
    // ~5.2 MB of output, 20x the cap, from two steps.
    await setPipeline(
      hub,
      'loud',
      `jobs:
- name: job
  plan:
  - task: one
    config:
      platform: linux
      run: {path: sh, args: ['-c', 'seq 1 400000; echo done-one']}
  - task: two
    config:
      platform: linux
      run: {path: sh, args: ['-c', 'seq 1 400000 >&2; echo done-two']}
`,
    );
    const id = await triggerJob(hub, 'loud', 'job');
    expect(await waitForBuild(hub, id)).toBe('succeeded');

    const events = await readBuildEvents(hub, id);
    expect(finalStatus(events)).toBe('succeeded');
    const text = logText(events);
    expect(text.match(MARKER)).toHaveLength(1);
    const marker = events.find(
      (e) => e.event === 'log' && String(e.data.payload).includes('build log exceeds'),
    );
    expect(marker?.data.origin).toMatchObject({ source: 'stderr' });
    // What is stored is bounded by the cap (plus the marker), however much the steps printed.
    const stored = Buffer.byteLength(text.replace(MARKER, ''));
    expect(stored).toBeLessThanOrEqual(cap);
    expect(stored).toBeGreaterThan(cap / 2);
    // The stored part is the start of the output, in order.
    expect(text.startsWith('1\n2\n3\n')).toBe(true);
    expect(text).not.toContain('done-two');
    const metrics = await scrapeMetrics(hub);
    expect(metrics).toMatch(/^outpost_hub_log_truncated_builds_total 1$/m);
    expect(Number(/^outpost_hub_log_bytes_dropped_total (\d+)/m.exec(metrics)?.[1])).toBeGreaterThan(
      4_500_000,
    );
  }, 60_000);
});

/** A raw agent holding a leased step of a `tags: [raw]` pool, accepted and started. */
async function rawWithLease(
  hub: TestHub,
  name: string,
): Promise<{ raw: RawAgent; leaseId: string; buildId: number }> {
  const raw = rawAgent(hub.grpcAddress, await hub.newAgentToken(name), {
    agentName: name,
    pools: [
      {
        name: 'raw',
        platform: Platform.PLATFORM_LINUX,
        tags: ['raw'],
        executor: 'process',
        capacity: 1,
        admission: undefined,
        builtinTypes: [],
        taskImages: false,
      },
    ],
  });
  cleanups.push(() => raw.close());
  await raw.next('welcome');
  await setPipeline(hub, `${name}-p`, shellPipeline('true', '    tags: [raw]\n'));
  const buildId = await triggerJob(hub, `${name}-p`, 'job');
  const { leaseId } = await raw.next('assign');
  raw.send({ msg: { $case: 'accepted', value: { leaseId } } });
  raw.send({ msg: { $case: 'started', value: { leaseId, atUnixMs: Date.now() } } });
  return { raw, leaseId, buildId };
}

describe('oversized messages', () => {
  it('ends only the offending session with RESOURCE_EXHAUSTED and a reason; the hub serves others', async () => {
    const hub = await hubWith({ maxMessageBytes: 1024 * 1024 });
    const { raw, leaseId } = await rawWithLease(hub, 'big');
    raw.send(stdoutMessage(leaseId, 1, Buffer.alloc(2 * 1024 * 1024, 97)));
    const ended = await raw.ended;
    expect(ended.code).toBe(8); // RESOURCE_EXHAUSTED
    expect(ended.details).toMatch(/larger than max|exceeds/i);

    // A chunk under the message limit but over the chunk limit is refused with the hub's own reason.
    const second = await rawWithLease(hub, 'wide');
    second.raw.send(stdoutMessage(second.leaseId, 1, Buffer.alloc(hub.options.maxLogChunkBytes + 1, 97)));
    expect(await second.raw.ended).toMatchObject({
      code: 8,
      details: expect.stringMatching(/exceeds the limit/) as unknown,
    });

    const agent = await startTestAgent(hub);
    cleanups.push(() => agent.stop());
    await agent.welcomed;
    await setPipeline(hub, 'ok', shellPipeline('echo fine'));
    const id = await triggerJob(hub, 'ok', 'job');
    expect(await waitForBuild(hub, id)).toBe('succeeded');
    const metrics = await scrapeMetrics(hub);
    expect(metrics).toMatch(/^outpost_hub_messages_rejected_total\{reason="log_chunk_too_large"\} 1$/m);
  });
});

describe('a flooding agent', () => {
  it('does not starve the API or another agent, and is itself still served', async () => {
    const hub = await hubWith({ maxSessionLogBytes: 512 * 1024 });
    const { raw, leaseId } = await rawWithLease(hub, 'flood');
    const agent = await startTestAgent(hub);
    cleanups.push(() => agent.stop());
    await agent.welcomed;

    // The flood: 64 KiB chunks as fast as gRPC takes them, never waiting for an ack.
    const data = Buffer.alloc(64 * 1024, 'x\n');
    let flooding = true;
    let sent = 0;
    const flood = (async () => {
      for (let seq = 1; flooding; seq++) {
        const ok = raw.call.write(stdoutMessage(leaseId, seq, data));
        sent += data.length;
        if (!ok)
          await new Promise((resolve) => {
            raw.call.once('drain', resolve);
            raw.call.once('close', resolve);
            raw.call.once('error', resolve);
          });
      }
    })();
    cleanups.push(async () => {
      flooding = false;
      raw.close();
      await flood.catch(() => undefined);
    });
    while (sent < 4 * 1024 * 1024) await new Promise((r) => setTimeout(r, 10));

    // While it floods: health and build listing answer, and another agent's build runs to the end.
    let answered = 0;
    let probing = true;
    const probes = (async () => {
      while (probing) {
        const health = await fetch(`${hub.url}/healthz`);
        const list = await hub.api('GET', '/builds');
        if (health.status === 200 && list.status === 200) answered++;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await setPipeline(hub, 'quiet', shellPipeline('seq 1 2000'));
    const id = await triggerJob(hub, 'quiet', 'job');
    expect(await waitForBuild(hub, id, 40_000)).toBe('succeeded');
    probing = false;
    await probes;
    expect(answered).toBeGreaterThan(0);
    expect(logText(await readBuildEvents(hub, id))).toBe(
      Array.from({ length: 2000 }, (_, i) => `${i + 1}\n`).join(''),
    );
    // Nor was the flood starved: the hub went on storing it (the quiet build's 2000 lines are a few chunks).
    const deadline = Date.now() + 20_000;
    for (;;) {
      const metrics = await scrapeMetrics(hub);
      if (Number(/^outpost_hub_log_chunks_total (\d+)/m.exec(metrics)?.[1]) > 64) break;
      if (Date.now() > deadline) throw new Error("the flooding agent's chunks were not stored");
      await new Promise((r) => setTimeout(r, 50));
    }
  }, 60_000);
});
