// Hub replicas on one PostgreSQL, as child processes behind a TCP load balancer, with one agent process
// dialling the balancer: the first replica leads, the others stand by (alive, not ready, no gateway).
// Each round SIGKILLs the leader in the middle of a build; a standby takes the leader lock, resumes the
// unfinished builds, the agent reconnects through the balancer to it and resumes its step there, and
// every log line the step printed is stored exactly once. `npm run test:ha`; ends with an `ha:` line.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnAgentProcess } from '../support/agent-process.js';
import { freePort, startBalancer } from '../support/balancer.js';
import {
  adminTokenOf,
  callApi,
  killChildHub,
  spawnChildHub,
  type ChildHubProcess,
} from '../support/child-hub.js';
import { cleanupAfterEach } from '../support/cleanups.js';
import { eventually } from '../support/eventually.js';
import { finalStatus, logText, openEventStream, readBuildEvents } from '../support/harness.js';
import { postgresSkip, testPostgresOnce } from '../support/store-backends.js';

const unavailable = postgresSkip('hub replicas on PostgreSQL');

const REPLICAS = 3;
const LINES = 40;
const defer = cleanupAfterEach();

describe.skipIf(unavailable !== undefined)('hub replicas on one PostgreSQL', () => {
  const server = testPostgresOnce();

  it('a standby takes over from a SIGKILLed leader and the agent resumes its step there', async () => {
    const url = await (await server()).createDatabase('ha');
    // The replicas' shared volume: artifacts and the admin token file.
    const dir = await mkdtemp(path.join(tmpdir(), 'outpost-ha-'));
    defer(() => rm(dir, { recursive: true, force: true }));
    const ports = await Promise.all(
      Array.from({ length: REPLICAS }, async () => ({ http: await freePort(), grpc: await freePort() })),
    );
    const balancer = await startBalancer(ports.map((p) => p.grpc));
    defer(() => balancer.close());

    const started: Promise<ChildHubProcess>[] = ports.map((p) =>
      spawnChildHub(dir, {
        httpPort: p.http,
        grpcPort: p.grpc,
        args: ['--database', url],
        // A standby logs `hub ready` only once it leads.
        readyTimeoutMs: 600_000,
      }),
    );
    for (const s of started) void s.then((hub) => defer(() => killChildHub(hub)));
    const led = new Set<ChildHubProcess>();
    /** The next replica to lead: the first of those that have not led yet to log `hub ready`. */
    const nextLeader = async () => {
      const next = await Promise.race(
        started.map((s) => s.then((hub) => (led.has(hub) ? new Promise<never>(() => undefined) : hub))),
      );
      led.add(next);
      return next;
    };
    let leader = await nextLeader();
    const token = await adminTokenOf(dir);

    // The others stand by: alive, not ready.
    for (const p of ports.filter((p) => String(p.http) !== new URL(leader.url).port))
      await eventually('a standby answering its probes', async () => {
        const ready = await fetch(`http://127.0.0.1:${p.http}/readyz`).catch(() => undefined);
        const live = await fetch(`http://127.0.0.1:${p.http}/healthz`).catch(() => undefined);
        return ready?.status === 503 && live?.status === 200 ? true : undefined;
      });

    const agentToken = await callApi<{ token: string }>(leader.url, token, 'POST', '/agent-tokens', {
      name: 'ha',
    });
    const agentDir = await mkdtemp(path.join(tmpdir(), 'outpost-ha-agent-'));
    defer(() => rm(agentDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 }));
    const agent = await spawnAgentProcess(
      { grpcPort: 0 },
      { dir: agentDir, token: agentToken.body.token, address: `127.0.0.1:${balancer.port}` },
    );
    defer(() => void agent.child.kill('SIGKILL'));
    await agent.logged('connected to the hub');

    const source = `jobs:
- name: job
  plan:
  - task: lines
    config:
      platform: linux
      run:
        path: sh
        args: ['-c', 'for i in $(seq 1 ${LINES}); do echo line $i; sleep 0.1; done']
`;
    expect(
      (await callApi(leader.url, token, 'PUT', '/teams/main/pipelines/ha/config', { source })).status,
    ).toBe(200);
    expect((await callApi(leader.url, token, 'PUT', '/teams/main/pipelines/ha/unpause')).status).toBe(204);

    const builds: number[] = [];
    let kills = 0;
    for (let round = 1; round < REPLICAS; round++) {
      const build = await callApi<{ id: number }>(
        leader.url,
        token,
        'POST',
        '/teams/main/pipelines/ha/jobs/job/builds',
      );
      expect(build.status).toBe(201);
      builds.push(build.body.id);
      // The step is under way (`\\n` as the SSE data's JSON spells a newline: not "line 50").
      const stream = await openEventStream({ url: leader.url, adminToken: token }, build.body.id);
      await stream.until('line 5\\n');
      await stream.cancel();
      leader.child.kill('SIGKILL');
      await leader.exited;
      kills++;
      leader = await nextLeader();
    }

    let linesStored = 0;
    let duplicates = 0;
    const expected = Array.from({ length: LINES }, (_, i) => `line ${i + 1}\n`).join('');
    for (const id of builds) {
      const events = await readBuildEvents({ url: leader.url, adminToken: token }, id);
      const log = logText(events);
      const lines = log.split('\n').filter((l) => l !== '');
      linesStored += lines.length;
      duplicates += lines.length - new Set(lines).size;
      expect(log).toBe(expected);
      expect(finalStatus(events)).toBe('succeeded');
    }
    console.log(
      `ha: replicas=${REPLICAS} replica_kills=${kills} builds=${builds.length} lines_sent=${LINES * builds.length} lines_stored=${linesStored} duplicates=${duplicates}`,
    );
  }, 600_000);
});
