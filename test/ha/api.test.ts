// The HTTP API on every hub replica: three replicas on one PostgreSQL as child processes, one agent
// dialling replica A (its steps run through A), the builds run by whichever replica leads (L), and a
// client on replica B. Hubs behind one load-balanced address must answer every route the same on any
// replica: reads from the shared database, writes that take effect (the leader's scheduler, checker and
// engine act on what another replica stored, woken by a LISTEN/NOTIFY hint), build events and logs
// streamed (SSE) on B for a build whose steps run through A, and login tokens valid everywhere.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type {
  AgentSummary,
  BuildSummary,
  JobSummary,
  LoginResponse,
  QueuedStep,
} from '../../hub/api/types.js';
import { spawnAgentProcess } from '../support/agent-process.js';
import { freePort } from '../support/balancer.js';
import {
  adminTokenOf,
  callApi,
  killChildHub,
  spawnChildHub,
  type ChildHubProcess,
} from '../support/child-hub.js';
import { cleanupAfterEach } from '../support/cleanups.js';
import { eventually } from '../support/eventually.js';
import { finalStatus, logText, readBuildEvents } from '../support/harness.js';
import { postgresSkip, testPostgresOnce } from '../support/store-backends.js';
import { leaderIndex, printReplicaOutput, readiness } from './replica-hubs.js';

const unavailable = postgresSkip('the API on hub replicas');
const defer = cleanupAfterEach();
const TERMINAL = new Set(['succeeded', 'failed', 'errored', 'aborted']);
const LINES = 20;

const PIPELINE = `resources:
- name: ver
  type: mock
  check_every: never
  source: {initial_version: v1}
jobs:
- name: echo
  plan:
  - task: lines
    config:
      platform: linux
      run: {path: sh, args: ['-c', 'for i in $(seq 1 ${LINES}); do echo line $i; sleep 0.05; done']}
- name: sleeper
  plan:
  - task: wait
    config:
      platform: linux
      run: {path: sh, args: ['-c', 'echo waiting; sleep 600']}
- name: crowd
  plan:
  - in_parallel:
    - {task: one, config: {platform: linux, run: {path: sleep, args: ['600']}}}
    - {task: two, config: {platform: linux, run: {path: sleep, args: ['600']}}}
    - {task: three, config: {platform: linux, run: {path: sleep, args: ['600']}}}
`;

describe.skipIf(unavailable !== undefined)('the API on every hub replica', () => {
  const server = testPostgresOnce();

  it('answers, acts and streams the same on every replica; a login works on all; one leads', async () => {
    const url = await (await server()).createDatabase('ha_api');
    const dir = await mkdtemp(path.join(tmpdir(), 'outpost-ha-api-'));
    defer(() => rm(dir, { recursive: true, force: true }));
    const hubs: ChildHubProcess[] = await Promise.all(
      [0, 1, 2].map(async () => {
        const hub = await spawnChildHub(dir, {
          httpPort: await freePort(),
          args: ['--database', url],
          // Three hubs compiling their sources at once on a loaded machine.
          readyTimeoutMs: 180_000,
        });
        defer(() => killChildHub(hub));
        return hub;
      }),
    );
    try {
      // Every replica is ready (it serves the whole API); exactly one leads.
      const leader = hubs[await leaderIndex(hubs)]!;
      for (const hub of hubs)
        expect(await readiness(hub)).toMatchObject({ status: 200, body: { ready: true } });
      const [a, b] = hubs.filter((h) => h !== leader) as [ChildHubProcess, ChildHubProcess];
      const token = await adminTokenOf(dir);
      const api = <T>(hub: ChildHubProcess, method: string, route: string, body?: unknown, as = token) =>
        callApi<T>(hub.url, as, method, route, body);

      // A user made on B logs in on A; the login token works on every replica.
      expect((await api(b, 'PUT', '/users/ann', { password: 'correct horse battery' })).status).toBe(201);
      expect(
        (await api(b, 'PUT', '/teams/main', { members: [{ user: 'ann', role: 'member' }] })).status,
      ).toBe(200);
      const login = await api<LoginResponse>(a, 'POST', '/auth/token', {
        username: 'ann',
        password: 'correct horse battery',
        team: 'main',
      });
      expect(login.status).toBe(200);
      for (const hub of hubs)
        expect(
          (await api<{ name: string }>(hub, 'GET', '/user', undefined, login.body.token)).body,
        ).toMatchObject({
          name: 'ann',
        });

      // An agent token made on the leader; the agent dials replica A.
      const agentToken = await api<{ token: string }>(leader, 'POST', '/agent-tokens', { name: 'ha-api' });
      const agentDir = await mkdtemp(path.join(tmpdir(), 'outpost-ha-api-agent-'));
      defer(() => rm(agentDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 }));
      const agent = await spawnAgentProcess(a, {
        dir: agentDir,
        name: 'agent-a',
        token: agentToken.body.token,
      });
      defer(() => void agent.child.kill('SIGKILL'));
      await agent.logged('connected to the hub', 120_000);

      // The pipeline set on A, unpaused on B.
      expect((await api(a, 'PUT', '/teams/main/pipelines/p/config', { source: PIPELINE })).status).toBe(200);
      expect((await api(b, 'PUT', '/teams/main/pipelines/p/unpause')).status).toBe(204);

      // Triggered on B, its events streamed on B while the leader runs it and its step runs through A.
      const echo = await api<BuildSummary>(b, 'POST', '/teams/main/pipelines/p/jobs/echo/builds');
      expect(echo.status).toBe(201);
      const events = await readBuildEvents({ url: b.url, adminToken: token }, echo.body.id);
      expect(finalStatus(events)).toBe('succeeded');
      expect(logText(events)).toBe(Array.from({ length: LINES }, (_, i) => `line ${i + 1}\n`).join(''));

      // Another build triggered on B and aborted on B once its step runs (its log read on A).
      const sleeper = await api<BuildSummary>(b, 'POST', '/teams/main/pipelines/p/jobs/sleeper/builds');
      await eventually('the sleeper to print', async () => {
        const res = await fetch(`${a.url}/api/v1/builds/${sleeper.body.id}/log`, {
          headers: { authorization: `Bearer ${token}` },
        });
        return (await res.text()).includes('waiting') ? true : undefined;
      });
      expect((await api(b, 'PUT', `/builds/${sleeper.body.id}/abort`)).status).toBe(204);
      const aborted = await readBuildEvents({ url: a.url, adminToken: token }, sleeper.body.id);
      expect(finalStatus(aborted)).toBe('aborted');

      // A check asked on A (a standby) runs on the leader; its version is seen on B.
      const check = await api<BuildSummary>(a, 'POST', '/teams/main/pipelines/p/resources/ver/check', {});
      expect(check.status).toBe(201);
      expect(finalStatus(await readBuildEvents({ url: b.url, adminToken: token }, check.body.id))).toBe(
        'succeeded',
      );
      const versions = await api<{ version: Record<string, string> }[]>(
        b,
        'GET',
        '/teams/main/pipelines/p/resources/ver/versions',
      );
      expect(versions.body.map((v) => v.version)).toEqual([{ version: 'v1' }]);

      // A rerun asked on A runs too.
      const rerun = await api<BuildSummary>(
        a,
        'POST',
        `/teams/main/pipelines/p/jobs/echo/builds/${echo.body.name}`,
      );
      expect(rerun.status).toBe(201);
      expect(finalStatus(await readBuildEvents({ url: a.url, adminToken: token }, rerun.body.id))).toBe(
        'succeeded',
      );

      // A client that flips between replicas (as through a load balancer) gets the same answers.
      const routes = [
        `/builds/${echo.body.id}`,
        `/builds/${sleeper.body.id}`,
        '/teams/main/pipelines/p/jobs',
        '/teams/main/pipelines',
        '/agents',
        '/queue',
      ];
      for (const route of routes) {
        const answers = await Promise.all(hubs.map((hub) => api(hub, 'GET', route)));
        for (const answer of answers) expect(answer, route).toEqual(answers[0]);
      }
      const agents = (await api<AgentSummary[]>(b, 'GET', '/agents')).body;
      expect(agents.map((x) => [x.name, x.state])).toEqual([['test/agent-a', 'connected']]);
      const jobs = (await api<JobSummary[]>(leader, 'GET', '/teams/main/pipelines/p/jobs')).body;
      expect(jobs.map((j) => [j.name, j.latestBuild?.status])).toEqual([
        ['echo', 'succeeded'],
        ['sleeper', 'aborted'],
        ['crowd', undefined],
      ]);

      // Three steps for the agent's two slots: once A (with the agent) says why the third waits,
      // every replica's queue says the same (the others have no agent to say anything of).
      const stuck = await api<BuildSummary>(b, 'POST', '/teams/main/pipelines/p/jobs/crowd/builds');
      await eventually("the agent's replica to say why a step waits", async () =>
        (await api<QueuedStep[]>(a, 'GET', '/queue')).body.some((q) => q.reason?.includes('at capacity'))
          ? true
          : undefined,
      );
      const queues = await Promise.all(hubs.map((hub) => api<QueuedStep[]>(hub, 'GET', '/queue')));
      for (const queue of queues) expect.soft(queue.body, '/queue').toEqual(queues[0]!.body);
      expect(queues[0]!.body.map((q) => q.buildId)).toEqual([stuck.body.id]);
      // Both slots are in use while the steps run, and every replica counts them: from the store's leases,
      // not its own sessions (A holds the agent's stream; B and C hold none).
      const views = await Promise.all(hubs.map((hub) => api<AgentSummary[]>(hub, 'GET', '/agents')));
      for (const view of views) expect.soft(view.body, '/agents').toEqual(views[0]!.body);
      expect(views[0]!.body.flatMap((x) => x.pools.map((p) => p.inUse))).toEqual([2]);
      expect((await api(b, 'PUT', `/builds/${stuck.body.id}/abort`)).status).toBe(204);

      // Paused on B, the pipeline shows paused on the leader, and a trigger on A waits for the unpause.
      expect((await api(b, 'PUT', '/teams/main/pipelines/p/pause')).status).toBe(204);
      const waiting = await api<BuildSummary>(a, 'POST', '/teams/main/pipelines/p/jobs/echo/builds');
      const pending = await eventually('the paused build to say why it waits', async () => {
        const got = (await api<BuildSummary>(leader, 'GET', `/builds/${waiting.body.id}`)).body;
        return got.waitingReason?.includes('paused') ? got : undefined;
      });
      expect(pending.status).toBe('pending');
      expect((await api(a, 'PUT', '/teams/main/pipelines/p/unpause')).status).toBe(204);
      await eventually('the unpaused build to end', async () => {
        const got = (await api<BuildSummary>(b, 'GET', `/builds/${waiting.body.id}`)).body;
        return TERMINAL.has(got.status) ? got.status : undefined;
      }).then((status) => expect(status).toBe('succeeded'));

      // Destroyed on B while a build runs on the leader: it is aborted first, then gone on every replica.
      const running = await api<BuildSummary>(leader, 'POST', '/teams/main/pipelines/p/jobs/sleeper/builds');
      await eventually('the second sleeper to start', async () =>
        (await api<BuildSummary>(a, 'GET', `/builds/${running.body.id}`)).body.status === 'started'
          ? true
          : undefined,
      );
      expect((await api(b, 'DELETE', '/teams/main/pipelines/p')).status).toBe(204);
      for (const hub of hubs)
        expect((await api(hub, 'GET', '/teams/main/pipelines/p/jobs')).status).toBe(404);

      // The leader dies: another replica takes the lead; every survivor stays ready.
      leader.child.kill('SIGKILL');
      await leader.exited;
      await eventually(
        'a surviving replica to lead',
        async () =>
          (await Promise.all([a, b].map(readiness))).some((s) => s.body.leading) ? true : undefined,
        60_000,
      );
      for (const hub of [a, b]) expect((await readiness(hub)).status).toBe(200);
    } catch (err) {
      printReplicaOutput(hubs);
      throw err;
    }
  }, 600_000);
});
