import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { storeBackends, type StoreBackend } from '../../test/support/store-backends.js';
import type { PlanNode } from '../pipeline/plan.js';
import { DataDirInUseError } from './lock-holder.js';
import { openSqliteDatabase, openSqliteStore, SQLITE_FILE } from './sqlite.js';
import { StoreConflictError } from './store.js';
import type { AgentRecord, Announcement, BuildEvent, Store } from './store.js';

const plan = (id: string): PlanNode => ({ id, kind: 'do', steps: [] });

const tempDirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-store-'));
  tempDirs.push(dir);
  return dir;
}

afterEach(async () => {
  await Promise.all(tempDirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function mainTeamId(store: Store): Promise<number> {
  const team = await store.getTeam('main');
  if (team === undefined) throw new Error('no main team');
  return team.id;
}

/** A pipeline "p" with jobs "a" and "b" in the main team. */
async function pipelineWithJobs(store: Store) {
  const teamId = await mainTeamId(store);
  const { pipeline } = await store.savePipeline({
    teamId,
    name: 'p',
    source: 'jobs: []',
    jobs: [
      { name: 'a', plan: plan('a') },
      { name: 'b', plan: plan('b') },
    ],
    at: 10,
  });
  const a = (await store.getJob(pipeline.id, 'a'))!;
  const b = (await store.getJob(pipeline.id, 'b'))!;
  return { teamId, pipeline, a, b };
}

describe('openSqliteStore on disk', () => {
  it('migrates once and keeps data across reopen', async () => {
    const dataDir = join(await tempDir(), 'nested', 'data');
    const first = await openSqliteStore({ dataDir });
    const teamId = await mainTeamId(first);
    await first.createToken({ name: 't', hash: 'h1', teamId: null, kind: 'api', createdAt: 1 });
    await first.close();

    const second = await openSqliteStore({ dataDir });
    expect(await second.getTeam('main')).toEqual({ id: teamId, name: 'main' });
    expect((await second.listTokens('api')).map((t) => t.hash)).toEqual(['h1']);
    await second.close();
  });

  it('keeps the data directory to itself while open and names itself to a second opener', async () => {
    const dataDir = await tempDir();
    const first = await openSqliteStore({ dataDir });
    const refused = await openSqliteStore({ dataDir }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(DataDirInUseError);
    expect((refused as DataDirInUseError).holder).toMatchObject({ pid: process.pid, host: hostname() });
    expect((refused as Error).message).toContain(
      `data directory ${dataDir} is locked by the hub with pid ${process.pid} on host ${hostname()}, since `,
    );

    await first.close();
    const second = await openSqliteStore({ dataDir });
    await second.close();
  });

  it('leaves a deferred build event in the commit batch, and a plain one commits at once', async () => {
    const dataDir = await tempDir();
    const store = await openSqliteStore({ dataDir });
    const file = new BetterSqlite3(join(dataDir, SQLITE_FILE), { readonly: true });
    try {
      const { a } = await pipelineWithJobs(store);
      const build = await store.createBuild({ jobId: a.id, plan: plan('a'), at: 1 });
      const event = { type: 'waiting-for-worker', version: '1.0', data: { reason: 'full' }, at: 2 };
      /** What a hub that died now would find. */
      const onDisk = () =>
        (
          file.prepare('select seq from build_events where build_id = ?').all(build.id) as { seq: number }[]
        ).map((r) => r.seq);

      expect((await store.appendBuildEvent(build.id, event, { deferCommit: true })).seq).toBe(1);
      expect(store.uncommitted()).toBe(true);
      expect(onDisk()).toEqual([]);
      // Later writes see it: the next seq follows it.
      expect((await store.appendBuildEvent(build.id, event, { deferCommit: true })).seq).toBe(2);
      await store.durable();
      expect(onDisk()).toEqual([1, 2]);

      expect((await store.appendBuildEvent(build.id, event)).seq).toBe(3);
      expect(store.uncommitted()).toBe(false);
      expect(onDisk()).toEqual([1, 2, 3]);
    } finally {
      file.close();
      await store.close();
    }
  });
});

const backends: StoreBackend[] = [
  ['sqlite on disk', async () => openSqliteStore({ dataDir: await tempDir() })],
  ...storeBackends(),
];

describe.each(backends)('store (%s)', (_name, open) => {
  let store: Store;
  beforeEach(async () => {
    store = await open();
    return () => store.close();
  });

  it('has the main team after migration', async () => {
    const team = await store.getTeam('main');
    expect(team?.name).toBe('main');
    expect(await store.getTeamById(team!.id)).toEqual(team);
    expect(await store.getTeam('nope')).toBeUndefined();
  });

  describe('tokens', () => {
    it('creates, finds by hash, lists by kind and revokes once', async () => {
      const teamId = await mainTeamId(store);
      const agent = await store.createToken({ name: 'a', hash: 'ha', teamId, kind: 'agent', createdAt: 5 });
      expect(agent).toMatchObject({
        name: 'a',
        hash: 'ha',
        teamId,
        kind: 'agent',
        createdAt: 5,
        revokedAt: null,
      });
      await store.createToken({ name: 'api', hash: 'hb', teamId: null, kind: 'api', createdAt: 6 });

      expect(await store.findTokenByHash('ha')).toEqual({
        token: agent,
        team: { id: teamId, name: 'main' },
        user: undefined,
        memberships: [],
      });
      expect(await store.findTokenByHash('zz')).toBeUndefined();
      expect((await store.listTokens('agent')).map((t) => t.name)).toEqual(['a']);

      await store.touchToken(agent.id, 7);
      expect((await store.findTokenByHash('ha'))?.token.lastUsedAt).toBe(7);

      expect(await store.revokeToken(agent.id, 8)).toBe(true);
      expect(await store.revokeToken(agent.id, 9)).toBe(false);
      expect(await store.revokeToken(9999, 9)).toBe(false);
      expect((await store.findTokenByHash('ha'))?.token.revokedAt).toBe(8);
    });

    it("finds a login token with its user and the user's memberships, by team name", async () => {
      const user = await store.users.create({ name: 'ann', passwordHash: 'x', createdAt: 3 });
      const zeta = await store.teams.create('zeta');
      const alpha = await store.teams.create('alpha');
      await store.teams.setMembers(zeta.id, [{ userId: user.id, role: 'owner' }]);
      await store.teams.setMembers(alpha.id, [{ userId: user.id, role: 'viewer' }]);
      const token = await store.createToken({
        name: 'login',
        hash: 'hl',
        teamId: null,
        kind: 'api',
        createdAt: 4,
        userId: user.id,
      });
      expect(await store.findTokenByHash('hl')).toEqual({
        token,
        team: undefined,
        user,
        memberships: await store.teams.rolesOf(user.id),
      });
      expect((await store.findTokenByHash('hl'))?.memberships.map((m) => m.team.name)).toEqual([
        'alpha',
        'zeta',
      ]);
    });

    it('rejects a second token with the same hash', async () => {
      await store.createToken({ name: 'a', hash: 'same', teamId: null, kind: 'api', createdAt: 1 });
      await expect(
        store.createToken({ name: 'b', hash: 'same', teamId: null, kind: 'agent', createdAt: 2 }),
      ).rejects.toBeInstanceOf(StoreConflictError);
    });
  });

  describe('pipelines', () => {
    it('versions configs, keeps paused, and deactivates jobs no longer in the config', async () => {
      const teamId = await mainTeamId(store);
      const first = await store.savePipeline({
        teamId,
        name: 'p',
        source: 'v1',
        jobs: [
          { name: 'a', plan: plan('a1') },
          { name: 'b', plan: plan('b1') },
        ],
        at: 10,
      });
      expect(first.created).toBe(true);
      expect(first.pipeline).toMatchObject({
        teamId,
        name: 'p',
        paused: false,
        configVersion: 1,
        createdAt: 10,
      });
      const id = first.pipeline.id;
      const a = await store.getJob(id, 'a');

      await store.setPipelinePaused(id, true, 15);
      const second = await store.savePipeline({
        teamId,
        name: 'p',
        source: 'v2',
        jobs: [
          { name: 'c', plan: plan('c2') },
          { name: 'a', plan: plan('a2') },
        ],
        at: 20,
      });
      expect(second.created).toBe(false);
      expect(second.pipeline).toMatchObject({
        id,
        paused: true,
        configVersion: 2,
        createdAt: 10,
        updatedAt: 20,
      });

      const jobs = await store.listJobs(id);
      expect(jobs.map((j) => j.name)).toEqual(['c', 'a']);
      expect(jobs[1]).toMatchObject({ id: a!.id, plan: plan('a2'), active: true });
      expect(await store.getJob(id, 'b')).toMatchObject({ active: false, plan: plan('b1') });

      expect(await store.getPipelineConfig(id)).toEqual({
        pipelineId: id,
        version: 2,
        source: 'v2',
        createdAt: 20,
      });
      expect((await store.getPipelineConfig(id, 1))?.source).toBe('v1');
      expect(await store.getPipelineConfig(id, 3)).toBeUndefined();

      // A job that comes back keeps its identity.
      await store.savePipeline({
        teamId,
        name: 'p',
        source: 'v3',
        jobs: [{ name: 'b', plan: plan('b3') }],
        at: 30,
      });
      expect((await store.listJobs(id)).map((j) => [j.name, j.active])).toEqual([['b', true]]);

      await store.savePipeline({ teamId, name: 'p', source: 'v4', jobs: [], at: 40 });
      expect(await store.listJobs(id)).toEqual([]);
    });

    it('looks pipelines up by name and id, per team', async () => {
      const teamId = await mainTeamId(store);
      const { pipeline } = await store.savePipeline({ teamId, name: 'x', source: '', jobs: [], at: 1 });
      await store.savePipeline({ teamId, name: 'y', source: '', jobs: [], at: 2 });
      expect(await store.getPipeline(teamId, 'x')).toEqual(pipeline);
      expect(await store.getPipelineById(pipeline.id)).toEqual(pipeline);
      expect(await store.getPipeline(teamId + 1, 'x')).toBeUndefined();
      expect((await store.listPipelines(teamId)).map((p) => p.name)).toEqual(['x', 'y']);
    });

    it('renames a pipeline, refusing a name its team already has', async () => {
      const teamId = await mainTeamId(store);
      const { pipeline } = await store.savePipeline({ teamId, name: 'x', source: '', jobs: [], at: 1 });
      await store.savePipeline({ teamId, name: 'y', source: '', jobs: [], at: 2 });
      expect(await store.renamePipeline(pipeline.id, 'z', 3)).toBe(true);
      expect(await store.getPipelineById(pipeline.id)).toMatchObject({ name: 'z', updatedAt: 3 });
      await expect(store.renamePipeline(pipeline.id, 'y', 4)).rejects.toBeInstanceOf(StoreConflictError);
      expect(await store.renamePipeline(9999, 'w', 5)).toBe(false);
    });

    it('finds a job by the names in its path in one read, or says whether the team or the pipeline is missing', async () => {
      const { teamId, a } = await pipelineWithJobs(store);
      const instance = (
        await store.savePipeline({
          teamId,
          name: 'p',
          instanceVars: { branch: 'x' },
          source: '',
          jobs: [{ name: 'a', plan: plan('instance-a') }],
          at: 11,
        })
      ).pipeline;
      // Another team's pipeline is found under that team only.
      const other = await store.teams.create('other');
      await store.savePipeline({
        teamId: other.id,
        name: 'q',
        source: '',
        jobs: [{ name: 'a', plan: plan('q') }],
        at: 12,
      });

      expect(await store.findJobByPath('main', { name: 'p' }, 'a')).toEqual({ job: a });
      const instanceJob = await store.getJob(instance.id, 'a');
      expect(instanceJob?.plan).toEqual(plan('instance-a'));
      expect(await store.findJobByPath('main', { name: 'p', instanceVars: { branch: 'x' } }, 'a')).toEqual({
        job: instanceJob,
      });
      expect(await store.findJobByPath('main', { name: 'p' }, 'nope')).toEqual({ job: undefined });
      expect(await store.findJobByPath('main', { name: 'p', instanceVars: { branch: 'y' } }, 'a')).toEqual({
        missing: 'pipeline',
      });
      expect(await store.findJobByPath('main', { name: 'q' }, 'a')).toEqual({ missing: 'pipeline' });
      expect(await store.findJobByPath('other', { name: 'q' }, 'a')).toMatchObject({ job: { name: 'a' } });
      expect(await store.findJobByPath('nobody', { name: 'p' }, 'a')).toEqual({ missing: 'team' });
    });

    it('keeps instances of a pipeline apart by their instance vars, one per (team, name, vars)', async () => {
      const teamId = await mainTeamId(store);
      const save = (name: string, instanceVars: Record<string, unknown> | undefined, at: number) =>
        store.savePipeline({
          teamId,
          name,
          ...(instanceVars ? { instanceVars } : {}),
          source: '',
          jobs: [],
          at,
        });
      const plain = (await save('g', undefined, 1)).pipeline;
      await save('other', undefined, 2);
      const a = await save('g', { branch: 'a', n: { x: 1, y: [2] } }, 3);
      expect(a.created).toBe(true);
      const b = (await save('g', { branch: 'b' }, 4)).pipeline;
      // Same vars in another key order: the same instance, a new config version.
      const again = await save('g', { n: { y: [2], x: 1 }, branch: 'a' }, 5);
      expect(again).toMatchObject({ created: false, pipeline: { id: a.pipeline.id, configVersion: 2 } });
      expect(await store.getPipeline(teamId, 'g')).toMatchObject({ id: plain.id });
      expect((await store.getPipeline(teamId, 'g'))?.instanceVars).toBeUndefined();
      expect(await store.getPipeline(teamId, 'g', { branch: 'b' })).toMatchObject({
        id: b.id,
        name: 'g',
        instanceVars: { branch: 'b' },
      });
      expect(await store.getPipeline(teamId, 'g', { branch: 'c' })).toBeUndefined();
      // The group's pipelines follow one another where its first one stands.
      expect((await store.listPipelines(teamId)).map((p) => [p.name, p.instanceVars?.branch])).toEqual([
        ['g', undefined],
        ['g', 'a'],
        ['g', 'b'],
        ['other', undefined],
      ]);
      // A rename names the whole group; each instance keeps its vars.
      expect(await store.renamePipeline(b.id, 'h', 6)).toBe(true);
      expect(await store.getPipeline(teamId, 'h', { branch: 'a', n: { x: 1, y: [2] } })).toMatchObject({
        id: a.pipeline.id,
      });
      expect(await store.getPipeline(teamId, 'h')).toMatchObject({ id: plain.id });
      expect(await store.getPipeline(teamId, 'other')).toBeDefined();
      await expect(store.renamePipeline(plain.id, 'other', 7)).rejects.toBeInstanceOf(StoreConflictError);
      // Ordering by name orders the whole group.
      await store.pipelineLifecycle.order(teamId, ['other', 'h']);
      expect((await store.listPipelines(teamId)).map((p) => p.name)).toEqual(['other', 'h', 'h', 'h']);
    });

    it('deletes a pipeline with its jobs, builds and resource versions', async () => {
      const { teamId, pipeline, a } = await pipelineWithJobs(store);
      const build = await store.createBuild({ jobId: a.id, plan: plan('a'), at: 1 });
      const key = { pipelineId: pipeline.id, scope: 'resource' as const, name: 'r', configHash: 'h' };
      const [version] = await store.resources.saveVersions(key, [{ version: { v: '1' }, metadata: [] }], 1);
      expect(await store.deletePipeline(pipeline.id)).toBe(true);
      expect(await store.listPipelines(teamId)).toEqual([]);
      expect(await store.getJobById(a.id)).toBeUndefined();
      expect(await store.getBuild(build.id)).toBeUndefined();
      expect(await store.resources.getVersion(version!.id)).toBeUndefined();
      expect(await store.deletePipeline(pipeline.id)).toBe(false);
    });

    it('rejects duplicate job names and unknown teams', async () => {
      const teamId = await mainTeamId(store);
      const twice = [
        { name: 'a', plan: plan('1') },
        { name: 'a', plan: plan('2') },
      ];
      await expect(
        store.savePipeline({ teamId, name: 'p', source: '', jobs: twice, at: 1 }),
      ).rejects.toBeInstanceOf(StoreConflictError);
      await expect(
        store.savePipeline({ teamId: 999, name: 'p', source: '', jobs: [], at: 1 }),
      ).rejects.toBeInstanceOf(StoreConflictError);
      expect(await store.listPipelines(teamId)).toEqual([]);
    });
  });

  describe('builds', () => {
    it('numbers builds per job and freezes the plan', async () => {
      const { teamId, pipeline, a, b } = await pipelineWithJobs(store);
      const a1 = await store.createBuild({ jobId: a.id, plan: plan('frozen'), at: 100 });
      const a2 = await store.createBuild({ jobId: a.id, plan: plan('a'), at: 101 });
      const b1 = await store.createBuild({ jobId: b.id, plan: plan('b'), at: 102 });
      expect([a1.name, a2.name, b1.name]).toEqual(['1', '2', '1']);
      expect(a1).toMatchObject({
        teamId,
        pipelineId: pipeline.id,
        jobId: a.id,
        status: 'pending',
        plan: plan('frozen'),
        abortRequested: false,
        createdAt: 100,
        startedAt: null,
        endedAt: null,
      });
      expect((await store.getJobById(a.id))?.nextBuildNumber).toBe(3);

      expect(await store.getBuildByName(a.id, '2')).toMatchObject({
        id: a2.id,
        teamName: 'main',
        pipelineName: 'p',
        jobName: 'a',
      });
      // createBuild answers with the build as getBuild reads it: no read back needed.
      expect(await store.getBuild(b1.id)).toEqual(b1);
      expect(b1).toMatchObject({ teamName: 'main', pipelineName: 'p', jobName: 'b', oneOff: false });
      expect(await store.getBuild(9999)).toBeUndefined();
      await expect(store.createBuild({ jobId: 9999, plan: plan('x'), at: 1 })).rejects.toBeInstanceOf(
        StoreConflictError,
      );
    });

    it('updates status, times and abort requests', async () => {
      const { a } = await pipelineWithJobs(store);
      const build = await store.createBuild({ jobId: a.id, plan: plan('a'), at: 1 });
      await store.updateBuild(build.id, { status: 'started', startedAt: 2 });
      await store.updateBuild(build.id, { abortRequested: true });
      await store.updateBuild(build.id, {});
      await store.updateBuild(build.id, { status: 'aborted', endedAt: 3 });
      expect(await store.getBuild(build.id)).toMatchObject({
        status: 'aborted',
        startedAt: 2,
        endedAt: 3,
        abortRequested: true,
      });
    });

    it('lists builds newest first, honouring every filter', async () => {
      const { teamId, pipeline, a, b } = await pipelineWithJobs(store);
      const other = await store.savePipeline({
        teamId,
        name: 'q',
        source: '',
        jobs: [{ name: 'a', plan: plan('qa') }],
        at: 1,
      });
      const qa = (await store.getJob(other.pipeline.id, 'a'))!;
      const a1 = await store.createBuild({ jobId: a.id, plan: plan('a'), at: 1 });
      const b1 = await store.createBuild({ jobId: b.id, plan: plan('b'), at: 2 });
      const q1 = await store.createBuild({ jobId: qa.id, plan: plan('qa'), at: 3 });
      const a2 = await store.createBuild({ jobId: a.id, plan: plan('a'), at: 4 });
      await store.updateBuild(a1.id, { status: 'succeeded' });
      await store.updateBuild(q1.id, { status: 'failed' });

      const ids = async (filter: Parameters<Store['listBuilds']>[0]) =>
        (await store.listBuilds(filter)).map((x) => x.id);
      expect(await ids({ limit: 10 })).toEqual([a2.id, q1.id, b1.id, a1.id]);
      expect(await ids({ limit: 2 })).toEqual([a2.id, q1.id]);
      expect(await ids({ limit: 2, before: q1.id })).toEqual([b1.id, a1.id]);
      expect(await ids({ teamId, limit: 10 })).toHaveLength(4);
      expect(await ids({ teamId: teamId + 1, limit: 10 })).toEqual([]);
      expect(await ids({ pipelineId: pipeline.id, limit: 10 })).toEqual([a2.id, b1.id, a1.id]);
      expect(await ids({ jobId: a.id, limit: 10 })).toEqual([a2.id, a1.id]);
      expect(await ids({ statuses: ['succeeded', 'failed'], limit: 10 })).toEqual([q1.id, a1.id]);
      expect(await ids({ statuses: ['pending'], pipelineId: pipeline.id, before: a2.id, limit: 10 })).toEqual(
        [b1.id],
      );
      expect(await ids({ statuses: [], limit: 10 })).toEqual([]);

      const [view] = await store.listBuilds({ jobId: qa.id, limit: 1 });
      expect(view).toMatchObject({ teamName: 'main', pipelineName: 'q', jobName: 'a', status: 'failed' });
    });
  });

  describe('step runs', () => {
    async function stepRun() {
      const { a } = await pipelineWithJobs(store);
      const build = await store.createBuild({ jobId: a.id, plan: plan('a'), at: 1 });
      const run = await store.createStepRun({
        buildId: build.id,
        planId: 'a/0',
        name: 'unit',
        spec: { x: 1 },
        at: 2,
      });
      return { build, run };
    }

    it('creates pending runs and lists them by build and status', async () => {
      const { build, run } = await stepRun();
      expect(run).toMatchObject({
        buildId: build.id,
        planId: 'a/0',
        name: 'unit',
        status: 'pending',
        spec: { x: 1 },
        leaseId: null,
        logSeq: 0,
        createdAt: 2,
      });
      expect(await store.getStepRun(run.id)).toEqual(run);
      expect(await store.listStepRuns(build.id)).toEqual([run]);
      expect(await store.listStepRunsByStatus(['pending', 'running'])).toEqual([run]);
      expect(await store.listStepRunsByStatus(['running'])).toEqual([]);
    });

    it('fences updates on the lease', async () => {
      const { run } = await stepRun();
      // No lease yet: a lease-holding caller is refused, a null expectation passes.
      expect(await store.updateStepRun(run.id, 'stale', { status: 'running' })).toBe(false);
      expect(
        await store.updateStepRun(run.id, null, {
          status: 'assigned',
          leaseId: 'L1',
          agentName: 'ag',
          pool: 'p',
        }),
      ).toBe(true);
      expect(await store.getStepRunByLease('L1')).toMatchObject({
        id: run.id,
        status: 'assigned',
        agentName: 'ag',
      });

      expect(await store.updateStepRun(run.id, null, { status: 'failed' })).toBe(false);
      expect(await store.updateStepRun(run.id, 'L0', { status: 'failed', exitStatus: 1 })).toBe(false);
      expect(await store.getStepRun(run.id)).toMatchObject({
        status: 'assigned',
        exitStatus: null,
        leaseId: 'L1',
      });

      expect(await store.updateStepRun(run.id, 'L1', {})).toBe(true);
      expect(await store.updateStepRun(run.id, 'L2', {})).toBe(false);
      expect(
        await store.updateStepRun(run.id, 'L1', {
          status: 'succeeded',
          exitStatus: 0,
          startedAt: 3,
          endedAt: 4,
        }),
      ).toBe(true);
      expect(await store.getStepRun(run.id)).toMatchObject({
        status: 'succeeded',
        exitStatus: 0,
        endedAt: 4,
      });
      expect(await store.updateStepRun(9999, null, { status: 'failed' })).toBe(false);
    });

    it('stores the events that announce a change with it, and none when its fence does not hold', async () => {
      const { build, run } = await stepRun();
      const heard: BuildEvent[][] = [];
      const announce = (type: string): Announcement => ({
        events: [{ buildId: build.id, type, version: '1.0', data: { type }, at: 5 }],
        stored: (events) => heard.push(events),
      });
      expect(
        await store.updateStepRun(run.id, 'stale', { status: 'running' }, undefined, announce('refused')),
      ).toBe(false);
      const claim = { status: 'assigned', leaseId: 'L1', agentName: 'ag', pool: 'p' } as const;
      expect(await store.updateStepRun(run.id, null, claim, undefined, announce('selected-worker'))).toBe(
        true,
      );
      await store.updateBuild(build.id, { status: 'started' }, announce('status'));
      const assigned = await store.createStepRun(
        {
          buildId: build.id,
          planId: 'a/1',
          name: 'two',
          spec: null,
          at: 6,
          assigned: { leaseId: 'L2', agentName: 'ag', pool: 'p' },
        },
        announce('initialize-task'),
      );
      expect(assigned).toMatchObject({ status: 'assigned', leaseId: 'L2', agentName: 'ag', pool: 'p' });
      expect(await store.markStepProcessStarted(run.id, 'L1', announce('start-task'))).toBe(true);
      // Said again (after a reconnect): recorded once, so announced once.
      expect(await store.markStepProcessStarted(run.id, 'L1', announce('start-task again'))).toBe(false);

      const stored = await store.listBuildEvents(build.id, 0, 10);
      expect(stored.map((e) => e.type)).toEqual([
        'selected-worker',
        'status',
        'initialize-task',
        'start-task',
      ]);
      expect(stored.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
      expect(heard.flat()).toEqual(stored);
      expect(await store.getBuild(build.id)).toMatchObject({ status: 'started' });
    });

    it('refuses a lease already held by another run', async () => {
      const { build, run } = await stepRun();
      const other = await store.createStepRun({
        buildId: build.id,
        planId: 'a/1',
        name: 'two',
        spec: null,
        at: 2,
      });
      expect(await store.updateStepRun(run.id, null, { leaseId: 'L' })).toBe(true);
      await expect(store.updateStepRun(other.id, null, { leaseId: 'L' })).rejects.toBeInstanceOf(
        StoreConflictError,
      );
    });

    it('queues a pending run for replicas: one claim wins, and the holder fences updates', async () => {
      const { run } = await stepRun();
      const queue = store.replicaDispatch;
      expect(await queue.queued()).toEqual([]);
      await queue.queue(run.id, 'c/ag', 5);
      expect(await queue.queued()).toEqual([{ run, queuedAt: 5, preferAgent: 'c/ag' }]);
      // Why it waits is in the row, for every replica; queued again, it is said afresh.
      expect(await queue.waitingReason(run.id)).toBeUndefined();
      await queue.waiting(run.id, 'every pool is full');
      expect(await queue.queued()).toEqual([
        { run, queuedAt: 5, preferAgent: 'c/ag', reason: 'every pool is full' },
      ]);
      await queue.queue(run.id, 'c/ag', 5, 'no agent has tags [x]');
      expect(await queue.waitingReason(run.id)).toBe('no agent has tags [x]');

      const lease = { agentName: 'c/ag', pool: 'p' };
      const claims = await Promise.all([
        queue.claim(run.id, { ...lease, leaseId: 'L1', holder: 'r1' }),
        queue.claim(run.id, { ...lease, leaseId: 'L2', holder: 'r2' }),
      ]);
      expect(claims.filter(Boolean)).toHaveLength(1);
      const [leaseId, holder] = claims[0] ? ['L1', 'r1'] : ['L2', 'r2'];
      expect(await queue.queued()).toEqual([]);
      expect(await store.getStepRun(run.id)).toMatchObject({ status: 'assigned', leaseId });
      expect(await queue.held()).toMatchObject([{ run: { id: run.id, leaseId }, holder }]);

      // The agent moved to replica r3: the old holder can no longer write, r3 can.
      expect(await queue.hold(run.id, leaseId, 'r3')).toBe(true);
      expect(await store.updateStepRun(run.id, leaseId, { status: 'running' }, holder)).toBe(false);
      expect(await store.updateStepRun(run.id, leaseId, { status: 'running' }, 'r3')).toBe(true);
      // A takeover from a named holder fails once another holds it.
      expect(await queue.hold(run.id, leaseId, 'r4', holder)).toBe(false);
      expect(await queue.hold(run.id, 'other', 'r4')).toBe(false);

      // An abort of a running step waits for its holder; the end clears it.
      const ending = { status: 'aborted' as const, error: 'aborted by a user' };
      expect(await queue.requestAbort(run.id, ending, 6)).toBe('asked');
      expect(await queue.abortsFor('r3')).toEqual([{ stepRunId: run.id, leaseId, ending }]);
      expect(await queue.abortsFor(holder)).toEqual([]);
      expect(await store.updateStepRun(run.id, leaseId, { status: 'aborted' }, 'r3')).toBe(true);
      expect(await queue.abortsFor('r3')).toEqual([]);
      expect(await queue.requestAbort(run.id, ending, 7)).toBe('over');
    });

    it('ends a queued run that is aborted before any replica claims it', async () => {
      const { run } = await stepRun();
      await store.replicaDispatch.queue(run.id, undefined, 5);
      const ending = { status: 'failed' as const, error: 'timed out' };
      expect(await store.replicaDispatch.requestAbort(run.id, ending, 6)).toBe('ended');
      expect(await store.getStepRun(run.id)).toMatchObject({
        status: 'failed',
        error: 'timed out',
        endedAt: 6,
      });
      expect(await store.replicaDispatch.queued()).toEqual([]);
      expect(
        await store.replicaDispatch.claim(run.id, { leaseId: 'L', agentName: 'a', pool: 'p', holder: 'r' }),
      ).toBe(false);
    });
  });

  describe('build events', () => {
    it('appends logs: stored, duplicate and gap, interleaved with other events in one seq order', async () => {
      const { a } = await pipelineWithJobs(store);
      const build = await store.createBuild({ jobId: a.id, plan: plan('a'), at: 1 });
      const one = await store.createStepRun({
        buildId: build.id,
        planId: '1',
        name: 'one',
        spec: null,
        at: 1,
      });
      const two = await store.createStepRun({
        buildId: build.id,
        planId: '2',
        name: 'two',
        spec: null,
        at: 1,
      });
      const log = (stepRunId: number, seq: number, payload: string) =>
        store.appendLog({
          stepRunId,
          seq,
          event: { type: 'log', version: '5.1', data: { payload } },
          at: 100 + seq,
        });

      const status = await store.appendBuildEvent(build.id, {
        type: 'status',
        version: '1.0',
        data: 's',
        at: 50,
      });
      expect(status).toEqual({
        buildId: build.id,
        seq: 1,
        type: 'status',
        version: '1.0',
        json: '"s"',
        at: 50,
      });

      expect(await log(one.id, 1, 'o1')).toEqual({
        kind: 'stored',
        event: { buildId: build.id, seq: 2, type: 'log', version: '5.1', json: '{"payload":"o1"}', at: 101 },
      });
      expect(await log(two.id, 1, 't1')).toMatchObject({ kind: 'stored', event: { seq: 3 } });
      expect(await log(one.id, 1, 'o1 again')).toEqual({ kind: 'duplicate' });
      expect(await log(one.id, 3, 'o3')).toEqual({ kind: 'gap', logSeq: 1 });
      await store.appendBuildEvent(build.id, {
        type: 'finish-task',
        version: '1.0',
        data: { exit: 0 },
        at: 60,
      });
      expect(await log(one.id, 2, 'o2')).toMatchObject({ kind: 'stored', event: { seq: 5 } });
      expect((await store.getStepRun(one.id))?.logSeq).toBe(2);
      expect((await store.getStepRun(two.id))?.logSeq).toBe(1);

      const events = await store.listBuildEvents(build.id, 0, 100);
      expect(events.map((e) => [e.seq, e.type, JSON.parse(e.json) as unknown])).toEqual([
        [1, 'status', 's'],
        [2, 'log', { payload: 'o1' }],
        [3, 'log', { payload: 't1' }],
        [4, 'finish-task', { exit: 0 }],
        [5, 'log', { payload: 'o2' }],
      ]);

      // A new run (e.g. after re-dispatch) resets logSeq and starts over at 1.
      expect(await store.updateStepRun(two.id, null, { logSeq: 0 })).toBe(true);
      expect(await log(two.id, 1, 't1 again')).toMatchObject({ kind: 'stored', event: { seq: 6 } });

      await expect(log(9999, 1, 'x')).rejects.toBeInstanceOf(StoreConflictError);
      await expect(
        store.appendBuildEvent(9999, { type: 'status', version: '1.0', data: null, at: 1 }),
      ).rejects.toBeInstanceOf(StoreConflictError);
    });

    it('keeps seq per build and pages by afterSeq and limit', async () => {
      const { a } = await pipelineWithJobs(store);
      const x = await store.createBuild({ jobId: a.id, plan: plan('a'), at: 1 });
      const y = await store.createBuild({ jobId: a.id, plan: plan('a'), at: 1 });
      for (let i = 0; i < 5; i++) {
        await store.appendBuildEvent(x.id, { type: 'log', version: '5.1', data: i, at: i });
        if (i < 2) await store.appendBuildEvent(y.id, { type: 'log', version: '5.1', data: i, at: i });
      }
      const page = async (after: number, limit: number) =>
        (await store.listBuildEvents(x.id, after, limit)).map((e) => e.seq);
      expect(await page(0, 2)).toEqual([1, 2]);
      expect(await page(2, 2)).toEqual([3, 4]);
      expect(await page(4, 2)).toEqual([5]);
      expect(await page(5, 2)).toEqual([]);
      expect((await store.listBuildEvents(y.id, 0, 10)).map((e) => e.seq)).toEqual([1, 2]);
    });

    it('serialises concurrent appends to one build without gaps', async () => {
      const { a } = await pipelineWithJobs(store);
      const build = await store.createBuild({ jobId: a.id, plan: plan('a'), at: 1 });
      const run = await store.createStepRun({
        buildId: build.id,
        planId: '1',
        name: 'one',
        spec: null,
        at: 1,
      });
      // One step's chunks come in order (an agent session's log writer sends them one batch after the
      // other); other events for the build race with them and with each other.
      const logs = async () => {
        for (let i = 0; i < 20; i++)
          await store.appendLog({
            stepRunId: run.id,
            seq: i + 1,
            event: { type: 'log', version: '5.1', data: i },
            at: i,
          });
      };
      await Promise.all([
        logs(),
        ...Array.from({ length: 20 }, (_, i) =>
          store.appendBuildEvent(build.id, { type: 'status', version: '1.0', data: i, at: i }),
        ),
      ]);
      const seqs = (await store.listBuildEvents(build.id, 0, 100)).map((e) => e.seq);
      expect(seqs).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      expect((await store.getStepRun(run.id))?.logSeq).toBe(20);
    });
  });

  describe('OIDC logins', () => {
    const login = {
      stateHash: 'h1',
      context: '{"team":"main"}',
      codeVerifier: 'v',
      nonce: 'n',
      expiresAt: 100,
    };

    it('takes a login once, refuses an expired one and removes expired ones on the next start', async () => {
      await store.oidcLogins.put(login, 0);
      await store.oidcLogins.put({ ...login, stateHash: 'h2', expiresAt: 50 }, 0);
      expect(await store.oidcLogins.pending(10)).toBe(2);
      expect(await store.oidcLogins.take('h1', 10)).toEqual(login);
      expect(await store.oidcLogins.take('h1', 10)).toBeUndefined();
      expect(await store.oidcLogins.take('nope', 10)).toBeUndefined();
      // Expired: refused, and gone.
      await store.oidcLogins.put({ ...login, stateHash: 'h3', expiresAt: 60 }, 0);
      expect(await store.oidcLogins.take('h2', 50)).toBeUndefined();
      expect(await store.oidcLogins.pending(55)).toBe(1);
      await store.oidcLogins.put({ ...login, stateHash: 'h4', expiresAt: 200 }, 70);
      expect(await store.oidcLogins.pending(0)).toBe(1);
    });

    it('gives a login to one of two callbacks taking it at once', async () => {
      await store.oidcLogins.put(login, 0);
      const taken = await Promise.all([store.oidcLogins.take('h1', 10), store.oidcLogins.take('h1', 10)]);
      expect(taken.filter((t) => t !== undefined)).toEqual([login]);
    });
  });

  describe('agents', () => {
    const agent: AgentRecord = {
      name: 'k8s-1',
      cluster: 'eu',
      version: '0.1.0',
      pools: [{ name: 'default', platform: 'linux', tags: ['gpu'], executor: 'kubernetes', capacity: 4 }],
      state: 'connected',
      tokenId: null,
      connectedAt: 10,
      lastHeartbeatAt: 10,
      sessionId: 's1',
      replicaUrl: null,
    };

    it('upserts, lists and tracks state and heartbeats', async () => {
      await store.upsertAgent(agent);
      expect(await store.getAgent('k8s-1')).toEqual(agent);

      await store.upsertAgent({ ...agent, version: '0.2.0', pools: [] });
      await store.upsertAgent({ ...agent, name: 'a-first' });
      expect((await store.listAgents()).map((x) => [x.name, x.version])).toEqual([
        ['a-first', '0.1.0'],
        ['k8s-1', '0.2.0'],
      ]);

      await store.touchAgents(['k8s-1', 'a-first'], 20);
      expect((await store.getAgent('a-first'))?.lastHeartbeatAt).toBe(20);
      await store.setAgentState('k8s-1', 'draining', 25);
      expect(await store.getAgent('k8s-1')).toMatchObject({
        state: 'draining',
        connectedAt: 10,
        lastHeartbeatAt: 20,
      });
      await store.setAgentState('k8s-1', 'connected', 30);
      expect(await store.getAgent('k8s-1')).toMatchObject({
        state: 'connected',
        connectedAt: 30,
        lastHeartbeatAt: 30,
      });
      expect(await store.getAgent('nope')).toBeUndefined();
    });

    it("ignores a state written for a session the agent has left (another replica's, late)", async () => {
      await store.upsertAgent(agent);
      // The agent reconnects (to another replica): session s2 holds it now.
      await store.upsertAgent({ ...agent, sessionId: 's2', connectedAt: 20, lastHeartbeatAt: 20 });
      expect(await store.setAgentState('k8s-1', 'disconnected', 30, 's1')).toBe(false);
      expect(await store.setAgentState('k8s-1', 'draining', 30, 's1')).toBe(false);
      expect(await store.getAgent('k8s-1')).toMatchObject({ state: 'connected', sessionId: 's2' });
      expect(await store.setAgentState('k8s-1', 'disconnected', 40, 's2')).toBe(true);
      expect((await store.getAgent('k8s-1'))?.state).toBe('disconnected');
    });

    it('returns copies, not live references', async () => {
      await store.upsertAgent(agent);
      const got = (await store.getAgent('k8s-1'))!;
      got.pools[0]!.tags.push('mutated');
      expect((await store.getAgent('k8s-1'))?.pools[0]?.tags).toEqual(['gpu']);
    });
  });
});

describe('the SQLite connection the hub opens', () => {
  it('keeps the WAL, its synchronous level and temporary storage as the hub relies on', async () => {
    const db = await openSqliteDatabase({ dataDir: await tempDir() });
    try {
      const pragma = async (name: string) =>
        (await sql<Record<string, unknown>>`pragma ${sql.raw(name)}`.execute(db)).rows[0]?.[name];
      expect(await pragma('journal_mode')).toBe('wal');
      // NORMAL (1): the WAL is synced at checkpoints, not at each commit (docs/operations.md).
      expect(await pragma('synchronous')).toBe(1);
      // MEMORY (2): a savepoint's sub-journal never spills to a temporary file (sqlite.ts).
      expect(await pragma('temp_store')).toBe(2);
    } finally {
      await db.destroy();
    }
  });
});
