// An agent learns nothing of a lease it never held: a result sent for one is refused, never
// acknowledged, even after the step ended.

import { expect, it } from 'vitest';
import { cleanupAfterEach } from '../support/cleanups.js';
import { finalStatus, readBuildEvents, startTestHub, type TestHub } from '../support/harness.js';
import { finishedMessage, rawAgent, startedStep, type RawAgent } from '../support/raw-agent.js';
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
