// An outside prober speaking the agent protocol (docs/security.md, "Probed from outside"): another agent
// name claiming a disconnected agent's lease, bytes that are not a protobuf message on the Connect
// stream, an upload still open when its token is revoked.

import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import {
  credentials,
  makeGenericClientConstructor,
  Metadata,
  status as GrpcStatus,
  type ClientDuplexStream,
  type ServiceError,
} from '@grpc/grpc-js';
import type { ArtifactRef } from '../../proto/gen/outpost/v1/agent.js';
import { eventually } from '../support/eventually.js';
import { expect, it } from 'vitest';
import { LeaseDecision } from '../../proto/gen/outpost/v1/agent.js';
import { cleanupAfterEach } from '../support/cleanups.js';
import { finalStatus, readBuildEvents, startTestHub, type TestHub } from '../support/harness.js';
import {
  finishedMessage,
  heartbeating,
  rawAgent,
  sideCallsOf,
  startedStep,
  type RawAgent,
} from '../support/raw-agent.js';

const defer = cleanupAfterEach();

async function hubFor(): Promise<TestHub> {
  const hub = await startTestHub({ heartbeatMs: 500 });
  defer(() => hub.close());
  return hub;
}

function agentFor(hub: TestHub, token: string, agentName: string, held: string[] = []): RawAgent {
  const raw = rawAgent(hub.grpcAddress, token, {
    agentName,
    held: held.map((leaseId) => ({ leaseId, ackedLogSeq: 0, finished: undefined })),
  });
  defer(() => raw.close());
  defer(heartbeating(raw, 200));
  return raw;
}

it("drops a disconnected agent's lease listed in another agent name's Hello, and refuses its result", async () => {
  const hub = await hubFor();
  const token = await hub.newAgentToken('shared');
  const holder = agentFor(hub, token, 'holder');
  await holder.next('welcome');
  const { buildId, leaseId } = await startedStep(hub, holder);
  holder.close();

  // Another name, the same token (a StatefulSet's sibling) or another token, claims the lease.
  for (const [who, claimToken] of [
    ['sibling', token],
    ['stranger', await hub.newAgentToken('stranger')],
  ] as const) {
    const claimer = agentFor(hub, claimToken, who, [leaseId]);
    const welcome = await claimer.next('welcome');
    expect(welcome.held.map((h) => [h.leaseId, h.decision])).toEqual([
      [leaseId, LeaseDecision.LEASE_DECISION_DROP],
    ]);
    claimer.send(finishedMessage(leaseId, 0, { exitStatus: 1 }));
    expect((await claimer.next('leaseRevoked', (r) => r.leaseId === leaseId)).leaseId).toBe(leaseId);
    expect(claimer.received.filter((m) => m.msg?.$case === 'finishedAck')).toEqual([]);
  }

  // The holder comes back and finishes its step as it ran.
  const back = agentFor(hub, token, 'holder', [leaseId]);
  const welcome = await back.next('welcome');
  expect(welcome.held.map((h) => h.decision)).toEqual([LeaseDecision.LEASE_DECISION_RESUME]);
  back.send(finishedMessage(leaseId, 0));
  await back.next('finishedAck');
  expect(finalStatus(await readBuildEvents(hub, buildId))).toBe('succeeded');
});

it('ends a Connect stream whose message is not a protobuf with a status, and serves the next agent', async () => {
  const hub = await hubFor();
  const token = await hub.newAgentToken('fuzz');
  // A client that sends raw bytes on the Connect method, whatever they are.
  const Raw = makeGenericClientConstructor(
    {
      connect: {
        path: '/outpost.v1.AgentGateway/Connect',
        requestStream: true,
        responseStream: true,
        requestSerialize: (b: Buffer) => b,
        requestDeserialize: (b: Buffer) => b,
        responseSerialize: (b: Buffer) => b,
        responseDeserialize: (b: Buffer) => b,
      },
    },
    'AgentGateway',
  );
  const client = new Raw(hub.grpcAddress, credentials.createInsecure());
  defer(() => client.close());
  const metadata = new Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  for (const garbage of [
    Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]),
    Buffer.from('not a protobuf message'),
  ]) {
    const call = (
      client as unknown as {
        connect(m: Metadata): ClientDuplexStream<Buffer, Buffer>;
      }
    ).connect(metadata);
    const ended = new Promise<{ code: number; details: string }>((resolve) => {
      call.on('error', (err: { code: number; details: string }) => resolve(err));
      call.on('data', () => undefined);
    });
    call.write(garbage);
    const status = await ended;
    // grpc-js's own answer, before the hub sees a message: the stream ends, nothing else does.
    expect(status).toMatchObject({ code: GrpcStatus.INTERNAL, details: 'Error deserializing request' });
  }
  const next = agentFor(hub, token, 'after-fuzz');
  await next.next('welcome');
});

it("refuses an upload still open when its agent's token is revoked, and records nothing of it", async () => {
  const hub = await hubFor();
  const created = await hub.api<{ id: number; token: string }>('POST', '/agent-tokens', { name: 'leaky' });
  const raw = agentFor(hub, created.body.token, 'leaky');
  const { client, metadata } = sideCallsOf(
    hub.grpcAddress,
    created.body.token,
    (await raw.next('welcome')).sessionId,
  );
  defer(() => client.close());
  const { leaseId } = await startedStep(hub, raw);

  const data = Buffer.alloc(256 * 1024, 7);
  const sha256 = createHash('sha256').update(data).digest('hex');
  let settle!: (result: ArtifactRef | ServiceError) => void;
  const answer = new Promise<ArtifactRef | ServiceError>((resolve) => (settle = resolve));
  const upload = client.uploadArtifact(metadata, (err, ref) => settle(err ?? ref));
  upload.write({ part: { $case: 'header', value: { leaseId, name: 'out', size: data.length, sha256 } } });
  upload.write({ part: { $case: 'data', value: data.subarray(0, 1024) } });
  // The hub is writing the upload (its temporary file exists): the call passed every check at its start.
  const artifactsDir = path.join(hub.dir, 'artifacts', 'sha256');
  await eventually('the hub to start storing the upload', async () =>
    (await readdir(artifactsDir).catch(() => [])).some((f) => f.startsWith('.incoming-')) ? true : undefined,
  );
  expect((await hub.api('DELETE', `/agent-tokens/${created.body.id}`)).status).toBe(204);
  expect((await raw.ended).code).toBe(GrpcStatus.UNAUTHENTICATED);

  upload.write({ part: { $case: 'data', value: data.subarray(1024) } });
  upload.end();
  const result = await answer;
  expect(result).toMatchObject({ code: GrpcStatus.FAILED_PRECONDITION });
  expect((result as ServiceError).details).toMatch(/^agent session \S+ ended during the upload/);
  // Nothing was recorded under the lease: a later result naming that digest would not be taken.
  expect(await hub.store.uploads.ofLease(leaseId)).toEqual([]);
});
