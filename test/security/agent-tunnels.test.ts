// Intercept tunnels are bound to the agent that runs the step (issue 15): the hub asks that agent, over
// its own session, to open a Tunnel; any other agent presenting the tunnel's id, even one sharing the
// holder's token (a StatefulSet's prefix token), is refused and counted, and the tunnel still opens
// for its own agent. Protocol-level agents, a real hub over gRPC and HTTP.

import { status as GrpcStatus } from '@grpc/grpc-js';
import { expect, it } from 'vitest';
import type { CreatedAgentToken } from '../../hub/api/types.js';
import type { AgentGatewayClient, TunnelToAgent } from '../../proto/gen/outpost/v1/agent.js';
import { cleanupAfterEach } from '../support/cleanups.js';
import {
  setPipeline,
  shellPipeline,
  startTestHub,
  triggerJob,
  waitForEvents,
  type TestHub,
} from '../support/harness.js';
import { rawAgent, sideCallsOf, type RawAgent } from '../support/raw-agent.js';
import { countRefused } from '../support/security-tally.js';

const defer = cleanupAfterEach();

interface Agent {
  raw: RawAgent;
  /** Opens a Tunnel as this agent (its token and session) and sends the open frame. */
  tunnel(tunnelId: string): ReturnType<AgentGatewayClient['tunnel']>;
}

async function agent(hub: TestHub, name: string, token: string): Promise<Agent> {
  const raw = rawAgent(hub.grpcAddress, token, { agentName: name });
  defer(() => raw.close());
  const { client, metadata } = sideCallsOf(hub.grpcAddress, token, (await raw.next('welcome')).sessionId);
  defer(() => client.close());
  return {
    raw,
    tunnel(tunnelId) {
      const call = client.tunnel(metadata);
      call.write({ msg: { $case: 'open', value: { tunnelId } } });
      return call;
    },
  };
}

function endOf(call: ReturnType<AgentGatewayClient['tunnel']>): Promise<{ code: number; details: string }> {
  return new Promise((resolve) => {
    call.on('data', (_m: TunnelToAgent) => undefined);
    call.on('error', (err: { code: number; details: string }) => resolve(err));
  });
}

it('opens an intercept tunnel only for the agent that runs the step', async () => {
  const hub = await startTestHub();
  defer(() => hub.close());
  const shared = await hub.api<CreatedAgentToken>('POST', '/agent-tokens', {
    name: 'statefulset',
    agentPrefix: 'test/sts-',
  });
  const agents = [await agent(hub, 'sts-0', shared.body.token), await agent(hub, 'sts-1', shared.body.token)];
  await setPipeline(hub, 'p', shellPipeline('sleep 60'));
  const buildId = await triggerJob(hub, 'p', 'job');
  const { holder, leaseId } = await Promise.race(
    agents.map(async (a) => ({ holder: a, leaseId: (await a.raw.next('assign')).leaseId })),
  );
  const sibling = agents.find((a) => a !== holder)!;
  holder.raw.send({ msg: { $case: 'accepted', value: { leaseId } } });
  holder.raw.send({ msg: { $case: 'started', value: { leaseId, atUnixMs: Date.now() } } });
  await waitForEvents(hub, buildId, 'start-task');

  // A user intercepts the step; the hub asks the holder to open the tunnel.
  const response = fetch(`${hub.url}/api/v1/builds/${buildId}/intercept`, {
    method: 'POST',
    headers: { authorization: `Bearer ${hub.adminToken}`, 'content-type': 'application/octet-stream' },
    body: JSON.stringify({ start: { command: ['true'] } }) + '\n',
  });
  const { tunnelId } = await holder.raw.next('intercept');

  // The sibling (same token) and an outsider (another token) present the tunnel id: both refused.
  const outsider = await agent(hub, 'outsider', await hub.newAgentToken('outsider'));
  for (const impostor of [sibling, outsider]) {
    expect(await endOf(impostor.tunnel(tunnelId))).toMatchObject({
      code: GrpcStatus.PERMISSION_DENIED,
      details: `tunnel "${tunnelId}" is for a step of another agent`,
    });
  }
  const refused = await hub.metrics.agentRefusals.get();
  expect(refused.values.find((v) => v.labels.reason === 'tunnel')?.value).toBe(2);
  countRefused("an intercept tunnel opened by an agent other than the step's", 2);

  // The holder still opens it, and the user sees its command's exit.
  const own = holder.tunnel(tunnelId);
  own.on('data', (_m: TunnelToAgent) => undefined);
  // The hub ends the call once the user's response is over; cancelled at teardown is no failure.
  own.on('error', () => undefined);
  own.write({ msg: { $case: 'exit', value: { exitStatus: 7, error: '' } } });
  own.end();
  const res = await response;
  expect(res.status).toBe(200);
  expect(await res.text()).toBe('{"exit":7}\n');
});
