// An agent identity belongs to the token that holds it (issue 15, bound identity): another token's Hello
// under the same cluster/name is refused and the holder keeps its session and its steps; the holder's
// own token may reconnect (a resume after a network cut); revoking a token ends its live sessions.

import { status as GrpcStatus } from '@grpc/grpc-js';
import { expect, it } from 'vitest';
import { ProtocolVersion } from '../../proto/gen/outpost/v1/agent.js';
import { cleanupAfterEach } from '../support/cleanups.js';
import { eventually } from '../support/eventually.js';
import { setPipeline, shellPipeline, startTestHub, triggerJob, type TestHub } from '../support/harness.js';
import { rawAgent, rawPool, type RawAgent } from '../support/raw-agent.js';
import { countRefused } from '../support/security-tally.js';

const defer = cleanupAfterEach();

async function hubFor(): Promise<TestHub> {
  const hub = await startTestHub();
  defer(() => hub.close());
  return hub;
}

function agentFor(hub: TestHub, token: string, agentName: string): RawAgent {
  const raw = rawAgent(hub.grpcAddress, token, { agentName });
  defer(() => raw.close());
  return raw;
}

async function agentState(hub: TestHub, name: string): Promise<string | undefined> {
  const agents = await hub.api<{ name: string; state: string }[]>('GET', '/agents');
  return agents.body.find((a) => a.name === name)?.state;
}

it('refuses a Hello under a connected agent identity with another token; the holder keeps its steps', async () => {
  const hub = await hubFor();
  const holder = agentFor(hub, await hub.newAgentToken('holder'), 'victim');
  await holder.next('welcome');

  const impostor = agentFor(hub, await hub.newAgentToken('impostor'), 'victim');
  const refused = await impostor.ended;
  expect(refused.code).toBe(GrpcStatus.PERMISSION_DENIED);
  expect(refused.details).toContain('agent "test/victim" is connected with another agent token');
  expect(impostor.received.filter((m) => m.msg?.$case === 'welcome')).toEqual([]);

  // The holder was neither told to go away nor replaced: the next step is assigned to it.
  expect(await agentState(hub, 'test/victim')).toBe('connected');
  await setPipeline(hub, 'p', shellPipeline('echo for the holder'));
  await triggerJob(hub, 'p', 'job');
  expect((await holder.next('assign')).spec?.run?.args.join(' ')).toContain('for the holder');
  expect(holder.received.filter((m) => m.msg?.$case === 'goAway')).toEqual([]);
  countRefused("a Hello under another agent's name with another token");
});

it('lets the same token reconnect under its identity, replacing its older session', async () => {
  const hub = await hubFor();
  const token = await hub.newAgentToken('holder');
  const first = agentFor(hub, token, 'resumer');
  await first.next('welcome');
  const second = agentFor(hub, token, 'resumer');
  await second.next('welcome');
  expect((await first.next('goAway')).reason).toBe('replaced by a newer session of the same agent');
  expect(await agentState(hub, 'test/resumer')).toBe('connected');
});

it('ends a revoked token’s live session with UNAUTHENTICATED within 5 s', async () => {
  const hub = await hubFor();
  const created = await hub.api<{ id: number; token: string }>('POST', '/agent-tokens', { name: 'leaked' });
  const agent = agentFor(hub, created.body.token, 'compromised');
  await agent.next('welcome');

  const revokedAt = Date.now();
  expect((await hub.api('DELETE', `/agent-tokens/${created.body.id}`)).status).toBe(204);
  const ended = await agent.ended;
  const ms = Date.now() - revokedAt;
  console.log(`agent impersonation: revoked token's live session closed in ${ms} ms`);
  expect(ended.code).toBe(GrpcStatus.UNAUTHENTICATED);
  expect(ended.details).toBe('agent token "leaked" was revoked');
  expect(ms).toBeLessThan(5_000);
  await eventually('the revoked agent shown disconnected', async () =>
    (await agentState(hub, 'test/compromised')) === 'disconnected' ? true : undefined,
  );
  countRefused("a revoked token's live session (closed within 5 s)");
});

it('refuses the Hello of a session whose token was revoked after it authenticated', async () => {
  const hub = await hubFor();
  const created = await hub.api<{ id: number; token: string }>('POST', '/agent-tokens', { name: 'late' });
  const raw = rawAgent(hub.grpcAddress, created.body.token, null);
  defer(() => raw.close());
  // The gateway records a token's use when it authenticates a call: the stream is past that check.
  await eventually('the stream authenticated', async () => {
    const tokens = await hub.api<{ id: number; lastUsedAt: number | null }[]>('GET', '/agent-tokens');
    return tokens.body.find((t) => t.id === created.body.id)?.lastUsedAt ?? undefined;
  });
  expect((await hub.api('DELETE', `/agent-tokens/${created.body.id}`)).status).toBe(204);
  raw.send({
    msg: {
      $case: 'hello',
      value: {
        protocolVersion: ProtocolVersion.PROTOCOL_VERSION_1,
        agentName: 'late',
        agentVersion: 'test',
        cluster: 'test',
        pools: [rawPool('p')],
        held: [],
      },
    },
  });
  const ended = await raw.ended;
  expect(ended).toEqual({ code: GrpcStatus.UNAUTHENTICATED, details: 'agent token "late" was revoked' });
  expect(raw.received.filter((m) => m.msg?.$case === 'welcome')).toEqual([]);
  countRefused('a Hello on a stream whose token was revoked after it authenticated');
});
