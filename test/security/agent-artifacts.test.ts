// Fenced data (issue 15): artifact uploads and downloads are allowed only under the caller's own running
// lease (and a download only for that lease's inputs), and a Finished is believed only for the outputs
// the hub received under that lease. Protocol-level agents, a real hub over gRPC.

import { createHash } from 'node:crypto';
import { status as GrpcStatus, type Metadata } from '@grpc/grpc-js';
import { expect, it } from 'vitest';
import {
  type AgentGatewayClient,
  StepStatus,
  type ArtifactRef,
  type Finished,
} from '../../proto/gen/outpost/v1/agent.js';
import { cleanupAfterEach } from '../support/cleanups.js';
import {
  finalStatus,
  readBuildEvents,
  setPipeline,
  startTestHub,
  triggerJob,
  type TestHub,
} from '../support/harness.js';
import { rawAgent, sideCallsOf, type RawAgent } from '../support/raw-agent.js';
import { countRefused } from '../support/security-tally.js';
import { SESSION_METADATA_KEY } from '../../common/agent-session.js';
import type { CreatedAgentToken } from '../../hub/api/types.js';

const defer = cleanupAfterEach();

const PIPELINE = `jobs:
- name: job
  plan:
  - task: make
    config:
      platform: linux
      outputs: [{name: out}]
      run: {path: sh, args: [-c, 'true']}
  - task: use
    config:
      platform: linux
      inputs: [{name: out}]
      run: {path: sh, args: [-c, 'true']}
`;

interface Agent {
  raw: RawAgent;
  client: AgentGatewayClient;
  metadata: Metadata;
}

/** A welcomed protocol-level agent whose side calls name its session, as a real agent's do. */
async function agent(hub: TestHub, name: string, token?: string): Promise<Agent> {
  token ??= await hub.newAgentToken(name);
  const raw = rawAgent(hub.grpcAddress, token, { agentName: name });
  defer(() => raw.close());
  const { client, metadata } = sideCallsOf(hub.grpcAddress, token, (await raw.next('welcome')).sessionId);
  defer(() => client.close());
  return { raw, client, metadata };
}

function upload(a: Agent, leaseId: string, data: Buffer): Promise<ArtifactRef> {
  return new Promise((resolve, reject) => {
    const call = a.client.uploadArtifact(a.metadata, (err, ref) => (err ? reject(err) : resolve(ref)));
    const sha256 = createHash('sha256').update(data).digest('hex');
    call.write({ part: { $case: 'header', value: { leaseId, name: 'out', size: data.length, sha256 } } });
    call.write({ part: { $case: 'data', value: data } });
    call.end();
  });
}

async function download(a: Agent, leaseId: string, digest: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of a.client.downloadArtifact({ leaseId, digest }, a.metadata))
    chunks.push((chunk as { data: Buffer }).data);
  return Buffer.concat(chunks);
}

/** Lease ids already taken by nextStep. */
const taken = new Set<string>();

/** Accepts and starts the next step assigned to either agent; returns its holder and lease. */
async function nextStep(agents: Agent[]): Promise<{ holder: Agent; other: Agent; leaseId: string }> {
  const { holder, leaseId } = await Promise.race(
    agents.map(async (a) => ({
      holder: a,
      leaseId: (await a.raw.next('assign', (v) => !taken.has(v.leaseId))).leaseId,
    })),
  );
  taken.add(leaseId);
  holder.raw.send({ msg: { $case: 'accepted', value: { leaseId } } });
  holder.raw.send({ msg: { $case: 'started', value: { leaseId, atUnixMs: Date.now() } } });
  return { holder, other: agents.find((a) => a !== holder)!, leaseId };
}

function finish(a: Agent, leaseId: string, outputs: Finished['outputs']): void {
  a.raw.send({
    msg: {
      $case: 'finished',
      value: {
        leaseId,
        status: StepStatus.STEP_STATUS_SUCCEEDED,
        atUnixMs: Date.now(),
        exitStatus: 0,
        error: '',
        lastLogSeq: 0,
        outputs,
        resourceResultJson: '',
      },
    },
  });
}

async function expectRefused(call: Promise<unknown>, code: GrpcStatus, details: RegExp): Promise<void> {
  const err = (await call.then(
    () => undefined,
    (e: unknown) => e,
  )) as { code?: number; details?: string } | undefined;
  expect(err, 'the call was refused').toBeDefined();
  expect(err?.code).toBe(code);
  expect(err?.details).toMatch(details);
}

it("refuses artifact calls under another agent's lease; a lease's own inputs download", async () => {
  const hub = await startTestHub();
  defer(() => hub.close());
  const agents = [await agent(hub, 'first'), await agent(hub, 'second')];
  await setPipeline(hub, 'p', PIPELINE);
  const buildId = await triggerJob(hub, 'p', 'job');

  const make = await nextStep(agents);
  const bytes = Buffer.from('the output of make');
  await expectRefused(
    upload(make.other, make.leaseId, Buffer.from('planted')),
    GrpcStatus.PERMISSION_DENIED,
    /is not held by agent "test\/(first|second)"/,
  );
  const ref = await upload(make.holder, make.leaseId, bytes);
  await expectRefused(
    download(make.other, make.leaseId, ref.digest),
    GrpcStatus.PERMISSION_DENIED,
    /is not held by agent "test\/(first|second)"/,
  );
  finish(make.holder, make.leaseId, [{ name: 'out', digest: ref.digest, size: ref.size }]);

  const use = await nextStep(agents);
  await expectRefused(
    download(use.other, use.leaseId, ref.digest),
    GrpcStatus.PERMISSION_DENIED,
    /is not held by agent "test\/(first|second)"/,
  );
  expect(await download(use.holder, use.leaseId, ref.digest)).toEqual(bytes);
  finish(use.holder, use.leaseId, []);
  expect(finalStatus(await readBuildEvents(hub, buildId))).toBe('succeeded');

  const refused = await hub.metrics.agentRefusals.get();
  expect(refused.values.find((v) => v.labels.reason === 'artifact_lease')?.value).toBe(3);
  countRefused("an artifact call under another agent's lease (another token)", 3);
});

it('errors a step whose Finished reports outputs other than its uploads', async () => {
  const hub = await startTestHub();
  defer(() => hub.close());
  const agents = [await agent(hub, 'only')];
  await setPipeline(hub, 'p', PIPELINE);

  // A first build leaves an artifact in the store; the second step claims it instead of its own upload.
  const first = await triggerJob(hub, 'p', 'job');
  const make1 = await nextStep(agents);
  const earlier = await upload(make1.holder, make1.leaseId, Buffer.from('earlier'));
  finish(make1.holder, make1.leaseId, [{ name: 'out', digest: earlier.digest, size: earlier.size }]);
  const use1 = await nextStep(agents);
  finish(use1.holder, use1.leaseId, []);
  expect(finalStatus(await readBuildEvents(hub, first))).toBe('succeeded');

  const second = await triggerJob(hub, 'p', 'job');
  const make2 = await nextStep(agents);
  const own = await upload(make2.holder, make2.leaseId, Buffer.from('own'));
  finish(make2.holder, make2.leaseId, [{ name: 'out', digest: earlier.digest, size: earlier.size }]);
  const events = await readBuildEvents(hub, second);
  expect(finalStatus(events)).toBe('errored');
  const errors = events.filter((e) => e.event === 'error').map((e) => e.data.message);
  expect(errors).toContainEqual(
    `the agent's result does not match its uploads: output "out" was reported as ${earlier.digest} (${earlier.size} bytes) but uploaded as ${own.digest} (${own.size} bytes)`,
  );
  const refused = await hub.metrics.agentRefusals.get();
  expect(refused.values.find((v) => v.labels.reason === 'output_digest')?.value).toBe(1);
  countRefused('a Finished whose digests differ from its uploads');
});

it("keeps agents that share one prefix token (a StatefulSet) out of each other's leases", async () => {
  const hub = await startTestHub();
  defer(() => hub.close());
  const shared = await hub.api<CreatedAgentToken>('POST', '/agent-tokens', {
    name: 'statefulset',
    agentPrefix: 'test/sts-',
  });
  expect(shared.status).toBe(201);
  const agents = [await agent(hub, 'sts-0', shared.body.token), await agent(hub, 'sts-1', shared.body.token)];
  await setPipeline(hub, 'p', PIPELINE);
  const buildId = await triggerJob(hub, 'p', 'job');

  const make = await nextStep(agents);
  await expectRefused(
    upload(make.other, make.leaseId, Buffer.from('planted')),
    GrpcStatus.PERMISSION_DENIED,
    /is not held by agent "test\/sts-[01]"/,
  );
  const ref = await upload(make.holder, make.leaseId, Buffer.from('the output of make'));
  finish(make.holder, make.leaseId, [{ name: 'out', digest: ref.digest, size: ref.size }]);
  const use = await nextStep(agents);
  await expectRefused(
    download(use.other, use.leaseId, ref.digest),
    GrpcStatus.PERMISSION_DENIED,
    /is not held by agent "test\/sts-[01]"/,
  );

  // Another token presenting a sibling's session id is refused as such.
  const outsider = await agent(hub, 'outsider');
  const stolen = use.holder.metadata.get(SESSION_METADATA_KEY)[0] as string;
  outsider.metadata.set(SESSION_METADATA_KEY, stolen);
  await expectRefused(
    download(outsider, use.leaseId, ref.digest),
    GrpcStatus.PERMISSION_DENIED,
    new RegExp(`agent session ${stolen} belongs to another agent token`),
  );
  // Naming no session at all: not an agent the hub welcomed; it may retry once it is.
  outsider.metadata.remove(SESSION_METADATA_KEY);
  await expectRefused(
    download(outsider, use.leaseId, ref.digest),
    GrpcStatus.FAILED_PRECONDITION,
    /the call names no agent session/,
  );

  finish(use.holder, use.leaseId, []);
  expect(finalStatus(await readBuildEvents(hub, buildId))).toBe('succeeded');
  const refused = await hub.metrics.agentRefusals.get();
  const count = (reason: string) => refused.values.find((v) => v.labels.reason === reason)?.value;
  expect([count('artifact_lease'), count('session_token')]).toEqual([2, 1]);
  countRefused("an artifact call under a sibling's lease (a shared prefix token)", 2);
  countRefused("an artifact call under another token's session", 1);
});
