// The stall audit (hub/engine/audit.ts): each inconsistent state is made directly in the store, then one
// or two audit passes must find it, repair it, count it, and the build must end.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BuildSummary } from '../../hub/api/types.js';
import { Platform } from '../../proto/gen/outpost/v1/agent.js';
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

let hub: TestHub;
const cleanups: (() => Promise<void> | void)[] = [];

beforeEach(async () => {
  // No periodic pass: the test runs them. A short grace so adopted leases expire quickly.
  hub = await startTestHub({ auditIntervalMs: 0, leaseGraceMs: 400 });
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await hub.close();
});

async function build(id: number): Promise<BuildSummary> {
  return (await hub.api<BuildSummary>('GET', `/builds/${id}`)).body;
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 30));
  }
}

const ended = (id: number) =>
  until(`build ${id} to end`, async () => {
    const b = await build(id);
    return ['succeeded', 'failed', 'errored', 'aborted'].includes(b.status) ? b.status : undefined;
  });

async function jobId(pipeline: string): Promise<number> {
  const team = await hub.store.getTeam('main');
  const p = await hub.store.getPipeline(team!.id, pipeline);
  return (await hub.store.getJob(p!.id, 'job'))!.id;
}

async function counted(kind: string): Promise<number> {
  const text = await scrapeMetrics(hub);
  return Number(
    new RegExp(`^outpost_hub_audit_repairs_total\\{kind="${kind}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0,
  );
}

describe('the stall audit', () => {
  it('starts a pending build nothing started, and finishes a started build whose steps all ended', async () => {
    const agent = await startTestAgent(hub);
    cleanups.push(() => agent.stop());
    await agent.welcomed;
    await setPipeline(hub, 'p', shellPipeline('echo hello'));

    // Pending, created behind the engine's back.
    const job = await jobId('p');
    const orphan = await hub.store.createBuild({
      jobId: job,
      plan: (await hub.store.getJobById(job))!.plan,
      at: Date.now(),
    });
    const before = await build(orphan.id);
    expect(before.status).toBe('pending');
    expect(before.waitingReason).toBeTruthy();
    const found = await hub.audit.run();
    expect(found).toEqual([
      expect.objectContaining({ kind: 'pending_build_not_running', buildId: orphan.id }),
    ]);
    expect(await ended(orphan.id)).toBe('succeeded');

    // Finished, then set back to started: every step ended, but the build is open and nothing runs it.
    const done = await triggerJob(hub, 'p', 'job');
    expect(await ended(done)).toBe('succeeded');
    await hub.store.updateBuild(done, { status: 'started' });
    expect((await hub.audit.run()).map((f) => f.kind)).toEqual(['started_build_not_running']);
    expect(await ended(done)).toBe('succeeded');
    // Replayed, not re-run: still one step run.
    expect(await hub.store.listStepRuns(done)).toHaveLength(1);
    expect(await counted('pending_build_not_running')).toBe(1);
    expect(await counted('started_build_not_running')).toBe(1);
    // Nothing left to repair.
    expect(await hub.audit.run()).toEqual([]);
  });

  it('adopts a step run under a lease the dispatcher does not know, and errors one with no agent', async () => {
    // Steps for a pool nobody offers stay queued; then the store is changed under the dispatcher.
    await setPipeline(hub, 'ghost', shellPipeline('true', '    tags: [nowhere]\n'));
    await setPipeline(hub, 'lost', shellPipeline('true', '    tags: [nowhere]\n'));
    const ghost = await triggerJob(hub, 'ghost', 'job');
    const lost = await triggerJob(hub, 'lost', 'job');
    const stepOf = (id: number) =>
      until(`a step run of build ${id}`, async () => (await hub.store.listStepRuns(id))[0]);
    const ghostStep = await stepOf(ghost);
    const lostStep = await stepOf(lost);
    expect(
      await hub.store.updateStepRun(ghostStep.id, null, {
        status: 'running',
        leaseId: 'lease-of-a-ghost',
        agentName: 'ghost',
        pool: 'local',
      }),
    ).toBe(true);
    expect(
      await hub.store.updateStepRun(lostStep.id, null, { status: 'assigned', leaseId: 'lease-of-nobody' }),
    ).toBe(true);

    const found = await hub.audit.run();
    expect(
      found
        .filter((f) => f.kind === 'orphan_lease')
        .map((f) => f.stepRunId)
        .sort(),
    ).toEqual([ghostStep.id, lostStep.id].sort());
    // No agent named: errored at once. An agent named: it had the grace to list the step, then errored.
    expect(await ended(lost)).toBe('errored');
    expect((await hub.store.getStepRun(lostStep.id))?.error).toMatch(/assigned to no agent/);
    expect(await ended(ghost)).toBe('errored');
    expect((await hub.store.getStepRun(ghostStep.id))?.error).toMatch(/agent "ghost"/);
    expect(await counted('orphan_lease')).toBe(2);
  });

  it('delivers an outcome the engine missed, after two passes', async () => {
    const raw = rawAgent(hub.grpcAddress, await hub.newAgentToken('raw'), {
      agentName: 'raw',
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
    await setPipeline(hub, 'r', shellPipeline('true', '    tags: [raw]\n'));
    const id = await triggerJob(hub, 'r', 'job');
    const { leaseId } = await raw.next('assign');
    raw.send({ msg: { $case: 'accepted', value: { leaseId } } });
    const step = await until('the step running', async () => {
      const s = (await hub.store.listStepRuns(id))[0];
      return s?.status === 'running' ? s : undefined;
    });
    // The result is in the store, but the engine was never told.
    await hub.store.updateStepRun(step.id, leaseId, {
      status: 'succeeded',
      exitStatus: 0,
      endedAt: Date.now(),
    });
    expect(await hub.audit.run()).toEqual([]);
    expect((await build(id)).status).toBe('started');
    expect((await hub.audit.run()).map((f) => f.kind)).toEqual(['outcome_redelivered']);
    expect(await ended(id)).toBe('succeeded');
  });
});
