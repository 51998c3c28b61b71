// An agent's identity stays with its token while the hub keeps its leases: when the holder's session
// drops mid-step (a network cut), its steps wait the lease grace for it to come back. Another agent
// token's Hello under that name in the meantime must not be welcomed: it would take the name and make
// the holder's steps "lost" (errored), and then lock the real agent out as the name's new holder.
// And an agent learns nothing of a lease it never held: a result sent for one is refused, never
// acknowledged, even after the step ended.

import { status as GrpcStatus } from '@grpc/grpc-js';
import { expect, it } from 'vitest';
import { cleanupAfterEach } from '../support/cleanups.js';
import { eventually } from '../support/eventually.js';
import {
  finalStatus,
  logText,
  readBuildEvents,
  setPipeline,
  shellPipeline,
  startTestHub,
  triggerJob,
  waitForEvents,
  type TestHub,
} from '../support/harness.js';
import { finishedMessage, logMessage, rawAgent, type RawAgent } from '../support/raw-agent.js';
import { countRefused } from '../support/security-tally.js';

const defer = cleanupAfterEach();

async function hubFor(): Promise<TestHub> {
  const hub = await startTestHub();
  defer(() => hub.close());
  return hub;
}

function agentFor(hub: TestHub, token: string, held: string[] = [], agentName = 'victim'): RawAgent {
  const raw = rawAgent(hub.grpcAddress, token, {
    agentName,
    held: held.map((leaseId) => ({ leaseId, ackedLogSeq: 0, finished: undefined })),
  });
  defer(() => raw.close());
  return raw;
}

/** Triggers a one-step job that `agent` (welcomed) takes and starts; its build id and lease. */
async function startedStep(hub: TestHub, agent: RawAgent): Promise<{ buildId: number; leaseId: string }> {
  await setPipeline(hub, 'p', shellPipeline('echo x'));
  const buildId = await triggerJob(hub, 'p', 'job');
  const { leaseId } = await agent.next('assign');
  agent.send({ msg: { $case: 'accepted', value: { leaseId } } });
  agent.send({ msg: { $case: 'started', value: { leaseId, atUnixMs: Date.now() } } });
  await waitForEvents(hub, buildId, 'start-task');
  return { buildId, leaseId };
}

async function agentState(hub: TestHub): Promise<string | undefined> {
  const agents = await hub.api<{ name: string; state: string }[]>('GET', '/agents');
  return agents.body.find((a) => a.name === 'test/victim')?.state;
}

it("refuses another token's Hello under a disconnected agent's name while its steps wait for it", async () => {
  const hub = await hubFor();
  const holderToken = await hub.newAgentToken('holder');
  const holder = agentFor(hub, holderToken);
  await holder.next('welcome');
  const { buildId, leaseId } = await startedStep(hub, holder);

  // The holder's connection is cut; its step keeps its lease for the grace (2 min by default).
  holder.close();
  await eventually('the holder shown disconnected', async () =>
    (await agentState(hub)) === 'disconnected' ? true : undefined,
  );

  const impostor = agentFor(hub, await hub.newAgentToken('impostor'));
  // Welcomed (the hole) or ended, whichever comes first.
  await Promise.race([impostor.next('welcome'), impostor.ended]);
  expect(impostor.received.filter((m) => m.msg?.$case === 'welcome')).toEqual([]);
  const refused = await impostor.ended;
  expect(refused.code).toBe(GrpcStatus.PERMISSION_DENIED);
  expect(refused.details).toContain('agent "test/victim" holds running steps under another agent token');
  countRefused("a Hello under a disconnected agent's name, with another token, during its lease grace");

  // The real agent comes back with its token and its step, which resumes and ends as it ran.
  const back = agentFor(hub, holderToken, [leaseId]);
  const welcome = await back.next('welcome');
  expect(welcome.held).toEqual([expect.objectContaining({ leaseId, decision: 1 })]);
  back.send(logMessage(leaseId, 1, 'still the holder\n'));
  back.send(finishedMessage(leaseId, 1));
  const events = await readBuildEvents(hub, buildId);
  expect(finalStatus(events)).toBe('succeeded');
  expect(logText(events)).toBe('still the holder\n');
});

it('lets another token take the name once its old token is revoked (rotating an agent token)', async () => {
  const hub = await hubFor();
  const old = await hub.api<{ id: number; token: string }>('POST', '/agent-tokens', { name: 'old' });
  const holder = agentFor(hub, old.body.token);
  await holder.next('welcome');
  const { leaseId } = await startedStep(hub, holder);

  expect((await hub.api('DELETE', `/agent-tokens/${old.body.id}`)).status).toBe(204);
  expect((await holder.ended).code).toBe(GrpcStatus.UNAUTHENTICATED);
  const rotated = agentFor(hub, await hub.newAgentToken('new'), [leaseId]);
  const welcome = await rotated.next('welcome');
  expect(welcome.held).toEqual([expect.objectContaining({ leaseId, decision: 1 })]);
});

it("refuses another agent's result for a lease that already ended, rather than acknowledging it", async () => {
  const hub = await hubFor();
  const token = await hub.newAgentToken('shared');
  const runner = agentFor(hub, token);
  await runner.next('welcome');
  const { buildId, leaseId } = await startedStep(hub, runner);
  runner.send(finishedMessage(leaseId, 0));
  await runner.next('finishedAck');
  expect(finalStatus(await readBuildEvents(hub, buildId))).toBe('succeeded');

  // A sibling sharing the token (another name) replays the same result: refused, not acknowledged.
  const sibling = agentFor(hub, token, [], 'sibling');
  await sibling.next('welcome');
  sibling.send(finishedMessage(leaseId, 0));
  const answer = await Promise.race([
    sibling.next('leaseRevoked', (r) => r.leaseId === leaseId).then(() => 'leaseRevoked'),
    sibling.next('finishedAck').then(() => 'finishedAck'),
  ]);
  expect(answer).toBe('leaseRevoked');
  // The agent that ran it still gets its lost ack again.
  runner.received.length = 0;
  runner.send(finishedMessage(leaseId, 0));
  expect((await runner.next('finishedAck')).leaseId).toBe(leaseId);
  countRefused("a result for another agent's ended lease");
});
