// A build that ends on one replica tells an agent connected to another (BuildEnded): the agent keeps a
// succeeded step for `outpost intercept` until then, else until its own cleanup an hour later. Two
// replicas on one PostgreSQL as child processes; a protocol-level agent dials the one that does not lead
// (which runs the builds), so its Finished is handled there and the build ends on the leader.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BuildSummary } from '../../hub/api/types.js';
import { adminTokenOf, callApi, killChildHub, spawnChildHub } from '../support/child-hub.js';
import { cleanupAfterEach } from '../support/cleanups.js';
import { shellPipeline } from '../support/harness.js';
import { finishedMessage, heartbeating, rawAgent } from '../support/raw-agent.js';
import { postgresSkip, testPostgresOnce } from '../support/store-backends.js';
import { leaderIndex, printReplicaOutput } from './replica-hubs.js';

const unavailable = postgresSkip('BuildEnded across hub replicas');
const defer = cleanupAfterEach();

describe.skipIf(unavailable !== undefined)('BuildEnded across hub replicas', () => {
  const server = testPostgresOnce();

  it('reaches an agent whose stream is on another replica than the one the build ended on', async () => {
    const url = await (await server()).createDatabase('ha_build_ended');
    const dir = await mkdtemp(path.join(tmpdir(), 'outpost-ha-build-ended-'));
    defer(() => rm(dir, { recursive: true, force: true }));
    const hubs = await Promise.all(
      [0, 1].map(async () => {
        const hub = await spawnChildHub(dir, { args: ['--database', url], readyTimeoutMs: 180_000 });
        defer(() => killChildHub(hub));
        return hub;
      }),
    );
    try {
      const leader = hubs[await leaderIndex(hubs)]!;
      const other = hubs.find((h) => h !== leader)!;
      const token = await adminTokenOf(dir);
      const api = <T>(method: string, route: string, body?: unknown) =>
        callApi<T>(leader.url, token, method, route, body);
      const agentToken = await api<{ token: string }>('POST', '/agent-tokens', { name: 'kept' });
      const raw = rawAgent(`127.0.0.1:${other.grpcPort}`, agentToken.body.token, { agentName: 'kept' });
      defer(() => raw.close());
      await raw.next('welcome');
      defer(heartbeating(raw, 1_000));

      expect(
        (await api('PUT', '/teams/main/pipelines/p/config', { source: shellPipeline('true') })).status,
      ).toBe(200);
      expect((await api('PUT', '/teams/main/pipelines/p/unpause')).status).toBe(204);
      const build = await api<BuildSummary>('POST', '/teams/main/pipelines/p/jobs/job/builds');
      const { leaseId } = await raw.next('assign');
      raw.send({ msg: { $case: 'accepted', value: { leaseId } } });
      raw.send({ msg: { $case: 'started', value: { leaseId, atUnixMs: Date.now() } } });
      raw.send(finishedMessage(leaseId, 0));

      expect(await raw.next('buildEnded')).toEqual({ buildId: build.body.id, failed: false });
      expect((await api<BuildSummary>('GET', `/builds/${build.body.id}`)).body.status).toBe('succeeded');
    } catch (err) {
      printReplicaOutput(hubs);
      throw err;
    }
    // Two hubs compiling their sources at once on a loaded machine.
  }, 300_000);
});
