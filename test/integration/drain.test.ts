// Issue #6 item 4, the hub's half: SIGTERM on a hub process refuses new work, tells agents, flushes and
// exits within --drain-timeout; a hub started again on the same data directory carries the build on and
// it succeeds with every line exactly once.

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { adminTokenOf, callApi, spawnChildHub, killChildHub } from '../support/child-hub.js';
import { shellPipeline, startTestAgent, type TestHub } from '../support/harness.js';
import { startTcpProxy } from '../support/tcp-proxy.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const LINES = 3000;
const DRAIN_MS = 5_000;
/** A hub child's start (tsx compiles it first) took over 30 s at load 30 on two cores. */
const HUB_START_MS = 120_000;

describe('hub drain on SIGTERM', () => {
  it('exits within the bound while a build runs; the restarted hub finishes it with every line', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-drain-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const args = [
      '--drain-timeout',
      `${DRAIN_MS}ms`,
      '--lease-grace',
      '60s',
      '--heartbeat',
      '500ms',
      '--log-level',
      'info',
    ];
    const first = await spawnChildHub(dir, { args, readyTimeoutMs: HUB_START_MS });
    cleanups.push(() => killChildHub(first));
    const admin = await adminTokenOf(dir);
    const api = <T>(url: string, method: string, route: string, body?: unknown) =>
      callApi<T>(url, admin, method, route, body);

    const token = (await api<{ token: string }>(first.url, 'POST', '/agent-tokens', { name: 'a' })).body
      .token;
    // The agent dials a proxy that outlives the hub: the restarted hub listens on a port of its own, as a
    // port freed by the first could be taken by anything meanwhile.
    const proxy = await startTcpProxy(first.grpcPort);
    cleanups.push(() => proxy.close());
    const agent = await startTestAgent({ grpcPort: first.grpcPort } as TestHub, {
      token,
      name: 'drain-agent',
      address: `127.0.0.1:${proxy.port}`,
    });
    cleanups.push(() => agent.stop());
    await agent.welcomed;

    // Numbered lines, a few per 10 ms: the build runs for a couple of seconds.
    const script = `i=1; while [ $i -le ${LINES} ]; do echo "line $i"; if [ $((i % 50)) -eq 0 ]; then sleep 0.05; fi; i=$((i+1)); done`;
    expect(
      (
        await api(first.url, 'PUT', '/teams/main/pipelines/d/config', {
          source: shellPipeline(script),
          file: 'd.yml',
        })
      ).status,
    ).toBe(200);
    expect((await api(first.url, 'PUT', '/teams/main/pipelines/d/unpause')).status).toBe(204);
    const id = (await api<{ id: number }>(first.url, 'POST', '/teams/main/pipelines/d/jobs/job/builds')).body
      .id;

    // Read the live event stream until the step is well under way, then SIGTERM.
    const res = await fetch(`${first.url}/api/v1/builds/${id}/events`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    const reader = res.body!.getReader() as ReadableStreamDefaultReader<Uint8Array>;
    const decoder = new TextDecoder();
    let seen = '';
    while (!seen.includes('line 500\\n')) {
      const chunk = await reader.read();
      if (chunk.done) throw new Error('the event stream ended before line 500');
      seen += decoder.decode(chunk.value, { stream: true });
    }
    await reader.cancel();
    const sigtermAt = Date.now();
    first.child.kill('SIGTERM');
    const exit = await first.exited;
    const drainMs = Date.now() - sigtermAt;
    expect(exit.code).toBe(0);
    expect(drainMs).toBeLessThan(DRAIN_MS);
    expect(first.logs.map((l) => l.msg)).toContain('hub stopped');
    // The agent was told (GoAway) rather than left to find out from a dead connection.
    expect((await agent.metrics.goAways.get()).values[0]?.value).toBeGreaterThanOrEqual(1);

    // Same data directory: the agent dials the same address (the proxy, now to the new hub) and resumes its step.
    const second = await spawnChildHub(dir, { args, readyTimeoutMs: HUB_START_MS });
    cleanups.push(() => killChildHub(second));
    proxy.retarget(second.grpcPort);
    let status = '';
    const until = Date.now() + 40_000;
    while (!['succeeded', 'failed', 'errored', 'aborted'].includes(status)) {
      if (Date.now() > until) throw new Error(`build still ${status} after the restart`);
      await new Promise((r) => setTimeout(r, 100));
      status = (await api<{ status: string }>(second.url, 'GET', `/builds/${id}`)).body.status;
    }
    expect(status).toBe('succeeded');
    const events = await (
      await fetch(`${second.url}/api/v1/builds/${id}/events`, {
        headers: { authorization: `Bearer ${admin}` },
      })
    ).text();
    const payloads = events
      .split('\n\n')
      .map((block) => block.split('\n').find((l) => l.startsWith('data: ')))
      .filter((d): d is string => d !== undefined && d.includes('"event":"log"'))
      .map((d) => (JSON.parse(d.slice(6)) as { data: { payload: string } }).data.payload)
      .join('');
    expect(payloads).toBe(Array.from({ length: LINES }, (_, i) => `line ${i + 1}\n`).join(''));
    second.child.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
    console.log(`drain: SIGTERM to exit ${drainMs} ms (bound ${DRAIN_MS} ms)`);
  }, 300_000);
});
