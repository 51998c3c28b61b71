// Agent tokens with an expiry (`agent-tokens create --expires-in/--expires-at`): created through the API
// with it, refused once it passed with a reason the agent can act on (its live session ended, its next
// Connect and side calls refused), and the documented rotation (new token, restart the agent, revoke the
// old one) still moving a running step's agent to the new token before the old one expires.

import { status as GrpcStatus } from '@grpc/grpc-js';
import { expect, it } from 'vitest';
import { generateToken, hashToken } from '../../hub/auth/tokens.js';
import type { AgentTokenSummary, CreatedAgentToken } from '../../hub/api/types.js';
import { cleanupAfterEach } from '../support/cleanups.js';
import { LeaseDecision } from '../../proto/gen/outpost/v1/agent.js';
import {
  finalStatus,
  readBuildEvents,
  setPipeline,
  shellPipeline,
  startTestHub,
  triggerJob,
  waitForEvents,
  type TestHub,
} from '../support/harness.js';
import { finishedMessage, heartbeating, rawAgent } from '../support/raw-agent.js';
import { countRefused } from '../support/security-tally.js';

const defer = cleanupAfterEach();

async function hubFor(heartbeatMs = 200): Promise<TestHub> {
  const hub = await startTestHub({ heartbeatMs });
  defer(() => hub.close());
  return hub;
}

/**
 * A token that expires `inMs` from now. The API takes at least a minute; a test does not wait that
 * long, so this one is written to the store as the API would write it, with a nearer expiry.
 */
async function shortLivedToken(hub: TestHub, name: string, inMs: number): Promise<string> {
  const secret = generateToken('agent');
  await hub.store.createToken({
    kind: 'agent',
    name,
    teamId: null,
    hash: hashToken(secret),
    createdAt: Date.now(),
    expiresAt: Date.now() + inMs,
  });
  return secret;
}

it('creates an agent token with --expires-in or --expires-at and lists its expiry', async () => {
  const hub = await hubFor();
  const before = Date.now();
  const yearly = await hub.api<CreatedAgentToken>('POST', '/agent-tokens', {
    name: 'yearly',
    expiresIn: 86_400,
  });
  expect(yearly.status).toBe(201);
  expect(yearly.body.expiresAt).toBeGreaterThanOrEqual(before + 86_400_000);
  expect(yearly.body.expiresAt).toBeLessThanOrEqual(Date.now() + 86_400_000);
  const at = Date.parse('2099-06-30T12:00:00Z');
  const dated = await hub.api<CreatedAgentToken>('POST', '/agent-tokens', { name: 'dated', expiresAt: at });
  expect(dated.body.expiresAt).toBe(at);
  const forever = await hub.api<CreatedAgentToken>('POST', '/agent-tokens', { name: 'forever' });
  expect(forever.body.expiresAt).toBeNull();
  const list = await hub.api<AgentTokenSummary[]>('GET', '/agent-tokens');
  expect(list.body.map((t) => [t.name, t.expiresAt])).toEqual([
    ['yearly', yearly.body.expiresAt],
    ['dated', at],
    ['forever', null],
  ]);
  // A welcomed agent with a token that has not expired yet.
  const raw = rawAgent(hub.grpcAddress, yearly.body.token, { agentName: 'yearly' });
  defer(() => raw.close());
  await raw.next('welcome');
});

it('ends a live session when its token expires, and refuses the token after, saying it expired', async () => {
  const hub = await hubFor();
  const token = await shortLivedToken(hub, 'short', 1_500);
  const raw = rawAgent(hub.grpcAddress, token, { agentName: 'short' });
  defer(() => raw.close());
  defer(heartbeating(raw, 100));
  await raw.next('welcome');

  const ended = await raw.ended;
  expect(ended.code).toBe(GrpcStatus.UNAUTHENTICATED);
  expect(ended.details).toMatch(/^agent token "short" expired at \d{4}-\d\d-\d\dT[\d:.]+Z$/);
  countRefused("an expired token's live session ended");

  const again = rawAgent(hub.grpcAddress, token, { agentName: 'short' });
  defer(() => again.close());
  const refused = await again.ended;
  expect(refused).toEqual({ code: GrpcStatus.UNAUTHENTICATED, details: ended.details });
  expect(again.received).toEqual([]);
  countRefused('a Connect with an expired token');
});

it('rotates a running agent to a new token before the old one expires: new token, restart, revoke', async () => {
  const hub = await hubFor();
  const oldToken = await shortLivedToken(hub, 'old', 10 * 60_000);
  const before = rawAgent(hub.grpcAddress, oldToken, { agentName: 'rotating' });
  defer(() => before.close());
  const stopBefore = heartbeating(before, 100);
  defer(stopBefore);
  await before.next('welcome');
  await setPipeline(hub, 'p', shellPipeline('echo x'));
  const buildId = await triggerJob(hub, 'p', 'job');
  const { leaseId } = await before.next('assign');
  before.send({ msg: { $case: 'accepted', value: { leaseId } } });
  before.send({ msg: { $case: 'started', value: { leaseId, atUnixMs: Date.now() } } });
  await waitForEvents(hub, buildId, 'start-task');

  // The agent restarts with a new token (created through the API, with an expiry) and takes its step back.
  const created = await hub.api<CreatedAgentToken>('POST', '/agent-tokens', {
    name: 'new',
    expiresIn: 86_400,
  });
  stopBefore();
  before.close();
  const after = rawAgent(hub.grpcAddress, created.body.token, {
    agentName: 'rotating',
    held: [{ leaseId, ackedLogSeq: 0, finished: undefined }],
  });
  defer(() => after.close());
  defer(heartbeating(after, 100));
  const welcome = await after.next('welcome');
  expect(welcome.held.map((h) => [h.leaseId, h.decision])).toEqual([
    [leaseId, LeaseDecision.LEASE_DECISION_RESUME],
  ]);

  // Then the old token is revoked: the new session is not touched and its result is taken.
  const old = (await hub.api<AgentTokenSummary[]>('GET', '/agent-tokens')).body.find((t) => t.name === 'old');
  expect((await hub.api('DELETE', `/agent-tokens/${old?.id}`)).status).toBe(204);
  after.send(finishedMessage(leaseId, 0));
  expect((await after.next('finishedAck')).leaseId).toBe(leaseId);
  expect(finalStatus(await readBuildEvents(hub, buildId))).toBe('succeeded');
});
