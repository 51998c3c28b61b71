// Issue #6 item 8: both processes' /metrics carry reconnects, lease expiries, resends, duplicates, queue
// depth and dispatch latency, and the figures move when those things happen.

import { afterEach, describe, expect, it } from 'vitest';
import { LogStream, Platform, StepStatus } from '../../proto/gen/outpost/v1/agent.js';
import {
  setPipeline,
  shellPipeline,
  startTestAgent,
  startTestHub,
  triggerJob,
  type TestHub,
  scrapeMetrics,
} from '../support/harness.js';
import { rawAgent } from '../support/raw-agent.js';
import { startTcpProxy } from '../support/tcp-proxy.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The value of one sample (name with labels exactly as printed), or 0 when absent. */
function sample(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.slice(name.length + 1)) : 0;
}

async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 30));
  }
}

const scrape = async (url: string) => (await fetch(url)).text();

async function buildEnded(hub: TestHub, id: number): Promise<void> {
  await until(`build ${id}`, async () => {
    const { body } = await hub.api<{ status: string }>('GET', `/builds/${id}`);
    return ['succeeded', 'failed', 'errored', 'aborted'].includes(body.status);
  });
}

describe('metrics', () => {
  it('move on the hub and the agent for reconnects, expiries, resends, duplicates, queue and dispatch', async () => {
    const hub = await startTestHub({ acceptWithinMs: 300, heartbeatMs: 200 });
    cleanups.push(() => hub.close());
    const proxy = await startTcpProxy(hub.grpcPort);
    cleanups.push(() => proxy.close());
    // Port 0: a port picked beforehand and freed may be taken by something else before the agent binds it.
    const agent = await startTestAgent(hub, {
      address: `127.0.0.1:${proxy.port}`,
      metricsListen: '127.0.0.1:0',
    });
    cleanups.push(() => agent.stop());
    await agent.welcomed;
    const hubMetrics = () => scrapeMetrics(hub);
    const agentMetrics = () => scrape(`${agent.metricsUrl}/metrics`);

    // Dispatch latency on both sides.
    await setPipeline(hub, 'p', shellPipeline('echo one'));
    await buildEnded(hub, await triggerJob(hub, 'p', 'job'));
    expect(sample(await hubMetrics(), 'outpost_hub_dispatch_latency_seconds_count')).toBeGreaterThanOrEqual(
      1,
    );
    expect(
      sample(await agentMetrics(), 'outpost_agent_dispatch_latency_seconds_count'),
    ).toBeGreaterThanOrEqual(1);

    // Reconnects on both sides.
    proxy.cut();
    await until(
      'the agent to reconnect',
      async () => sample(await agentMetrics(), 'outpost_agent_reconnects_total') >= 1,
    );
    await until(
      'the hub to count it',
      async () => sample(await hubMetrics(), 'outpost_hub_agent_reconnects_total') >= 1,
    );
    await until('the agent back', async () => sample(await agentMetrics(), 'outpost_agent_connected') === 1);

    // A raw agent that never accepts: the lease expires, the step waits in the queue.
    const lazy = rawAgent(hub.grpcAddress, await hub.newAgentToken('lazy'), {
      agentName: 'lazy',
      pools: [
        {
          name: 'p',
          platform: Platform.PLATFORM_LINUX,
          tags: ['lazy'],
          executor: 'process',
          capacity: 1,
          admission: undefined,
          builtinTypes: [],
          taskImages: false,
        },
      ],
    });
    cleanups.push(() => lazy.close());
    await lazy.next('welcome');
    await setPipeline(hub, 'lazy', shellPipeline('true', '    tags: [lazy]\n'));
    await triggerJob(hub, 'lazy', 'job');
    await lazy.next('leaseRevoked');
    await until(
      'the expiry counted',
      async () => sample(await hubMetrics(), 'outpost_hub_lease_expiries_total{kind="unaccepted"}') >= 1,
    );
    await until('the step queued', async () => sample(await hubMetrics(), 'outpost_hub_queue_depth') >= 1);

    // A raw agent that sends a chunk twice and its result twice.
    const echo = rawAgent(hub.grpcAddress, await hub.newAgentToken('echo'), {
      agentName: 'echo',
      pools: [
        {
          name: 'p',
          platform: Platform.PLATFORM_LINUX,
          tags: ['echo'],
          executor: 'process',
          capacity: 1,
          admission: undefined,
          builtinTypes: [],
          taskImages: false,
        },
      ],
    });
    cleanups.push(() => echo.close());
    await echo.next('welcome');
    await setPipeline(hub, 'echo', shellPipeline('true', '    tags: [echo]\n'));
    const echoBuild = await triggerJob(hub, 'echo', 'job');
    const { leaseId } = await echo.next('assign');
    echo.send({ msg: { $case: 'accepted', value: { leaseId } } });
    const chunk = {
      leaseId,
      seq: 1,
      stream: LogStream.LOG_STREAM_STDOUT,
      data: Buffer.from('hi\n'),
      atUnixMs: 0,
    };
    echo.send({ msg: { $case: 'log', value: chunk } });
    echo.send({ msg: { $case: 'log', value: chunk } });
    const finished = {
      leaseId,
      status: StepStatus.STEP_STATUS_SUCCEEDED,
      atUnixMs: 0,
      exitStatus: 0,
      error: '',
      lastLogSeq: 1,
      outputs: [],
      resourceResultJson: '',
    };
    echo.send({ msg: { $case: 'finished', value: finished } });
    await echo.next('finishedAck');
    echo.send({ msg: { $case: 'finished', value: finished } });
    await buildEnded(hub, echoBuild);
    await until('duplicates and resends counted', async () => {
      const text = await hubMetrics();
      return (
        sample(text, 'outpost_hub_log_duplicates_total') >= 1 &&
        sample(text, 'outpost_hub_result_resends_total') >= 1
      );
    });

    // Every metric the docs list is exported by its process.
    const hubText = await hubMetrics();
    for (const name of [
      'outpost_hub_agent_reconnects_total',
      'outpost_hub_lease_expiries_total',
      'outpost_hub_log_duplicates_total',
      'outpost_hub_result_resends_total',
      'outpost_hub_queue_depth',
      'outpost_hub_dispatch_latency_seconds',
      'outpost_hub_log_batch_chunks',
      'outpost_hub_log_throttled_total',
      'outpost_hub_log_bytes_dropped_total',
      'outpost_hub_audit_repairs_total',
      'outpost_hub_messages_rejected_total',
    ])
      expect(hubText).toContain(`# TYPE ${name} `);
    const agentText = await agentMetrics();
    for (const name of [
      'outpost_agent_reconnects_total',
      'outpost_agent_log_resends_total',
      'outpost_agent_leases_revoked_total',
      'outpost_agent_dispatch_latency_seconds',
      'outpost_agent_steps_running',
    ])
      expect(agentText).toContain(`# TYPE ${name} `);
  }, 60_000);
});
