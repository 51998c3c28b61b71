// What a user behind a round-robin load balancer (no session affinity) meets when consecutive requests
// reach different hub replicas: three replicas on one PostgreSQL as child processes, an agent dialling
// replica A (not the leader), and each request sent to a chosen replica, as the balancer may:
// - an OIDC login started on one replica finishes on another; its callback replayed is refused;
// - an intercept asked of a replica that does not hold the agent's stream runs (forwarded to A);
// - a check asked of replicas that do not lead is joined by the leader's checker (one check build), and
//   its result is read on a replica that does not lead;
// - a waiting build says why on every replica, the same.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { OIDC_CALLBACK_PATH } from '../../hub/api/routes/oidc.js';
import type { AuditEntrySummary, BuildSummary, InterceptServerFrame, UserInfo } from '../../hub/api/types.js';
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
import { finalStatus, readBuildEvents } from '../support/harness.js';
import { browseLogin } from '../support/oidc-browser.js';
import { startOidcProvider } from '../support/oidc-provider.js';
import { postgresSkip, testPostgresOnce } from '../support/store-backends.js';
import { leaderIndex, printReplicaOutput } from './replica-hubs.js';

const unavailable = postgresSkip('requests spread over hub replicas');
const defer = cleanupAfterEach();

const PIPELINE = `resources:
- name: slow
  type: mock
  check_every: never
  source: {check_delay: 10s}
jobs:
- name: sleeper
  plan:
  - task: wait
    config:
      platform: linux
      run: {path: sh, args: ['-c', 'echo started; exec sleep 600']}
- name: nowhere
  plan:
  - task: stuck
    tags: [nowhere]
    config:
      platform: linux
      run: {path: 'true'}
`;

describe.skipIf(unavailable !== undefined)('requests spread over hub replicas', () => {
  const server = testPostgresOnce();

  it('log in, intercept, check and show why a build waits, whichever replica each request reaches', async () => {
    const url = await (await server()).createDatabase('ha_cross');
    const dir = await mkdtemp(path.join(tmpdir(), 'outpost-ha-cross-'));
    defer(() => rm(dir, { recursive: true, force: true }));
    const provider = await startOidcProvider();
    defer(() => provider.close());
    const ports = await Promise.all([0, 1, 2].map(() => freePort()));
    // The address users reach the hubs at: one for all replicas (the provider sends browsers back there).
    const external = `http://127.0.0.1:${ports[0]}`;
    provider.register(external + OIDC_CALLBACK_PATH);
    provider.addAccount({ id: 'olga', groups: ['devs'] });
    const secretFile = path.join(dir, 'oidc-secret');
    await writeFile(secretFile, provider.clientSecret);
    const hubs: ChildHubProcess[] = await Promise.all(
      ports.map(async (httpPort) => {
        const hub = await spawnChildHub(dir, {
          httpPort,
          args: [
            ...['--database', url, '--external-url', external],
            ...['--oidc-issuer', provider.issuer, '--oidc-client-id', provider.clientId],
            ...['--oidc-client-secret-file', secretFile, '--oidc-username-claim', 'preferred_username'],
          ],
          // Three hubs compiling their sources at once on a loaded machine.
          readyTimeoutMs: 180_000,
        });
        defer(() => killChildHub(hub));
        return hub;
      }),
    );
    try {
      const leader = hubs[await leaderIndex(hubs)]!;
      const [a, b] = hubs.filter((h) => h !== leader) as [ChildHubProcess, ChildHubProcess];
      const token = await adminTokenOf(dir);
      const api = <T>(hub: ChildHubProcess, method: string, route: string, body?: unknown, as = token) =>
        callApi<T>(hub.url, as, method, route, body);

      // OIDC: the login starts on one replica, the provider sends the browser back through the
      // balancer to another, and a replay of that callback on the third is refused.
      const team = { members: [], oidc: [{ kind: 'group', name: 'devs', role: 'member' }] };
      expect((await api(leader, 'PUT', '/teams/main', team)).status).toBe(200);
      const [starter, finisher, replayer] = hubs as [ChildHubProcess, ChildHubProcess, ChildHubProcess];
      const start = await fetch(`${starter.url}/api/v1/auth/oidc/login?team=main`, { redirect: 'manual' });
      expect(start.status).toBe(302);
      const cookie = start.headers.getSetCookie()[0]!.split(';')[0]!;
      const visit = await browseLogin(start.headers.get('location')!, 'olga', (to) =>
        to.pathname.endsWith(OIDC_CALLBACK_PATH),
      );
      expect(visit.location, `${visit.status} ${visit.text}`).toBeDefined();
      const callback = new URL(visit.location!);
      const finish = (hub: ChildHubProcess) =>
        fetch(`${hub.url}${callback.pathname}${callback.search}`, {
          headers: { cookie },
          redirect: 'manual',
        });
      const finished = await finish(finisher);
      expect(finished.status, await finished.clone().text()).toBe(302);
      const fields = new URLSearchParams(
        new URL(finished.headers.get('location')!, finisher.url).hash.slice(1),
      );
      const me = await api<UserInfo>(replayer, 'GET', '/user', undefined, fields.get('token')!);
      expect(me.body.name).toContain('olga');
      const replayed = await finish(replayer);
      expect(replayed.status).toBe(400);
      expect(await replayed.text()).toContain('unknown or expired login');

      // An agent dialling replica A, which does not lead.
      const agentToken = await api<{ token: string }>(leader, 'POST', '/agent-tokens', { name: 'ha-cross' });
      const agentDir = await mkdtemp(path.join(tmpdir(), 'outpost-ha-cross-agent-'));
      defer(() => rm(agentDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 }));
      const agent = await spawnAgentProcess(a, {
        dir: agentDir,
        name: 'agent-a',
        token: agentToken.body.token,
      });
      defer(() => void agent.child.kill('SIGKILL'));
      await agent.logged('connected to the hub', 120_000);
      expect((await api(b, 'PUT', '/teams/main/pipelines/p/config', { source: PIPELINE })).status).toBe(200);
      expect((await api(b, 'PUT', '/teams/main/pipelines/p/unpause')).status).toBe(204);

      // Intercept: asked of B and of the leader, neither of which holds the agent's stream.
      const sleeper = await api<BuildSummary>(b, 'POST', '/teams/main/pipelines/p/jobs/sleeper/builds');
      await eventually('the sleeper to print', async () => {
        const res = await fetch(`${b.url}/api/v1/builds/${sleeper.body.id}/log`, {
          headers: { authorization: `Bearer ${token}` },
        });
        return (await res.text()).includes('started') ? true : undefined;
      });
      for (const hub of [b, leader]) {
        const frames = await intercept(hub, token, sleeper.body.id, [
          'sh',
          '-c',
          'echo intercepted-$((6*7))',
        ]);
        expect(frames.status, frames.text).toBe(200);
        expect(frames.stdout).toBe('intercepted-42\n');
        expect(frames.last).toEqual({ exit: 0 });
      }
      // Each intercept audited once, by the replica holding the agent, with the caller and its address.
      // The row is written once the answer is out (an onResponse hook): the client can read the audit
      // log before it, so wait for two rows (a third, within the wait, would still show below).
      const interceptsAudited = async () =>
        (await api<AuditEntrySummary[]>(b, 'GET', '/audit')).body.filter((e) => e.action === 'intercept');
      await eventually('both intercepts audited', async () =>
        (await interceptsAudited()).length >= 2 ? true : undefined,
      ).catch(() => undefined);
      const audited = await interceptsAudited();
      expect
        .soft(audited.map((e) => [e.user, e.target, e.source, e.status]))
        .toEqual(
          [b, leader].map(() => [
            'token:admin',
            `/api/v1/builds/${sleeper.body.id}/intercept`,
            '127.0.0.1 via 127.0.0.1',
            200,
          ]),
        );
      expect((await api(b, 'PUT', `/builds/${sleeper.body.id}/abort`)).status).toBe(204);

      // check-resource asked of B, then A, then the leader while it runs: one check build, whose result
      // is read on B (as `outpost check-resource` watches it).
      const checks: BuildSummary[] = [];
      for (const hub of [b, a, leader]) {
        const check = await api<BuildSummary>(
          hub,
          'POST',
          '/teams/main/pipelines/p/resources/slow/check',
          {},
        );
        expect(check.status).toBe(201);
        checks.push(check.body);
      }
      expect(checks.map((c) => c.id)).toEqual([checks[0]!.id, checks[0]!.id, checks[0]!.id]);
      expect(finalStatus(await readBuildEvents({ url: b.url, adminToken: token }, checks[0]!.id))).toBe(
        'succeeded',
      );
      // A build whose step no agent can take says why on every replica, the same.
      const stuck = await api<BuildSummary>(a, 'POST', '/teams/main/pipelines/p/jobs/nowhere/builds');
      const reasons = await eventually('every replica to say why the build waits', async () => {
        const seen = await Promise.all(
          hubs.map(
            async (hub) =>
              (await api<BuildSummary>(hub, 'GET', `/builds/${stuck.body.id}`)).body.waitingReason,
          ),
        );
        return seen.every((r) => r?.includes('tags [nowhere]')) ? seen : undefined;
      });
      expect(new Set(reasons).size).toBe(1);
    } catch (err) {
      printReplicaOutput(hubs);
      throw err;
    }
  }, 600_000);
});

/** `outpost intercept` over HTTP: the command's frames, its stdout and the last frame. */
async function intercept(hub: ChildHubProcess, token: string, buildId: number, command: string[]) {
  const res = await fetch(`${hub.url}/api/v1/builds/${buildId}/intercept`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
    body: `${JSON.stringify({ start: { command } })}\n${JSON.stringify({ eof: true })}\n`,
  });
  const text = await res.text();
  const frames =
    res.status === 200
      ? text
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as InterceptServerFrame)
      : [];
  const stdout = frames
    .map((f) => ('stdout' in f && f.stdout ? Buffer.from(f.stdout, 'base64').toString() : ''))
    .join('');
  return { status: res.status, text, stdout, last: frames.at(-1) };
}
