// An agent token fixes what its agent may claim (issue 15, bound identity): a Hello under another
// name, or offering a pool, platform, tag or capacity beyond its token, is refused with a reason naming
// the field, counted in outpost_hub_agent_refusals_total; a Hello within the bounds is welcomed.

import { status as GrpcStatus } from '@grpc/grpc-js';
import { expect, it } from 'vitest';
import { Platform, type Hello } from '../../proto/gen/outpost/v1/agent.js';
import type { AgentTokenBounds, CreatedAgentToken } from '../../hub/api/types.js';
import { cleanupAfterEach } from '../support/cleanups.js';
import { setPipeline, shellPipeline, startTestHub, triggerJob, type TestHub } from '../support/harness.js';
import { rawAgent } from '../support/raw-agent.js';
import { countRefused } from '../support/security-tally.js';

const defer = cleanupAfterEach();

const linux = (name: string, tags: string[] = [], capacity = 2) => ({
  name,
  platform: Platform.PLATFORM_LINUX,
  tags,
  executor: 'process',
  capacity,
  admission: undefined,
  builtinTypes: [],
  taskImages: false,
});

async function boundToken(hub: TestHub, bounds: AgentTokenBounds): Promise<CreatedAgentToken> {
  const res = await hub.api<CreatedAgentToken>('POST', '/agent-tokens', { name: 'bounded', ...bounds });
  expect(res.status).toBe(201);
  return res.body;
}

async function helloWith(hub: TestHub, token: string, hello: Partial<Hello>) {
  const raw = rawAgent(hub.grpcAddress, token, hello);
  defer(() => raw.close());
  const outcome = await Promise.race([raw.next('welcome').then(() => 'welcome' as const), raw.ended]);
  return outcome;
}

async function refusals(hub: TestHub): Promise<Record<string, number>> {
  const metric = await hub.metrics.agentRefusals.get();
  return Object.fromEntries(metric.values.map((v) => [String(v.labels.reason), v.value]));
}

it('refuses a Hello that claims more than its token allows, naming the field', async () => {
  const hub = await startTestHub();
  defer(() => hub.close());
  const token = await boundToken(hub, {
    agentPrefix: 'eu/outpost-agent-',
    pools: ['linux', 'gpu'],
    platforms: ['linux'],
    tags: ['gpu'],
    maxCapacity: 4,
  });
  expect(token.bounds).toEqual({
    agentPrefix: 'eu/outpost-agent-',
    pools: ['linux', 'gpu'],
    platforms: ['linux'],
    tags: ['gpu'],
    maxCapacity: 4,
  });
  const within = {
    cluster: 'eu',
    agentName: 'outpost-agent-1',
    pools: [linux('linux'), linux('gpu', ['gpu'])],
  };

  const cases: [string, Partial<Hello>, string][] = [
    [
      'name',
      { ...within, cluster: 'us' },
      'agent token "bounded" does not allow the agent name "us/outpost-agent-1" (name: it allows names starting with "eu/outpost-agent-")',
    ],
    [
      'pool',
      { ...within, pools: [linux('linux'), linux('big')] },
      'agent token "bounded" does not allow pool "big" (pool: it allows linux, gpu)',
    ],
    [
      'platform',
      { ...within, pools: [{ ...linux('linux'), platform: Platform.PLATFORM_WINDOWS }] },
      'agent token "bounded" does not allow platform "windows" (pool "linux") (platform: it allows linux)',
    ],
    [
      'tag',
      { ...within, pools: [linux('gpu', ['gpu', 'prod'])] },
      'agent token "bounded" does not allow tag "prod" (pool "gpu") (tag: it allows gpu)',
    ],
    [
      'capacity',
      { ...within, pools: [linux('linux', [], 3), linux('gpu', ['gpu'], 1000)] },
      'agent token "bounded" does not allow a capacity of 1003 (capacity: it allows at most 4)',
    ],
  ];
  for (const [field, hello, details] of cases) {
    expect(await helloWith(hub, token.token, hello), field).toEqual({
      code: GrpcStatus.PERMISSION_DENIED,
      details,
    });
  }
  expect(await refusals(hub)).toEqual({ name: 1, pool: 1, platform: 1, tag: 1, capacity: 1 });
  countRefused('a Hello claiming a name, pool, platform, tag or capacity beyond its token', cases.length);

  // Within its bounds the agent is welcomed, and known by the identity its token allows.
  expect(await helloWith(hub, token.token, within)).toBe('welcome');
  const agents = await hub.api<{ name: string }[]>('GET', '/agents');
  expect(agents.body.map((a) => a.name)).toEqual(['eu/outpost-agent-1']);
});

it('binds a token to exactly one agent identity', async () => {
  const hub = await startTestHub();
  defer(() => hub.close());
  const token = await boundToken(hub, { agent: 'office/mac-mini-1' });
  expect(await helloWith(hub, token.token, { cluster: 'office', agentName: 'mac-mini-2' })).toEqual({
    code: GrpcStatus.PERMISSION_DENIED,
    details:
      'agent token "bounded" does not allow the agent name "office/mac-mini-2" (name: it allows "office/mac-mini-1" only)',
  });
  expect(await helloWith(hub, token.token, { cluster: 'office', agentName: 'mac-mini-1' })).toBe('welcome');
});

it("never gives a team-scoped agent another team's step", async () => {
  const hub = await startTestHub();
  defer(() => hub.close());
  expect((await hub.api('PUT', '/teams/alpha', { members: [] })).status).toBeLessThan(300);
  const alphaAgent = rawAgent(hub.grpcAddress, await hub.newAgentToken('alpha-only', 'alpha'), {
    agentName: 'alpha',
  });
  defer(() => alphaAgent.close());
  await alphaAgent.next('welcome');

  await setPipeline(hub, 'p', shellPipeline('echo main team step'));
  await triggerJob(hub, 'p', 'job');
  // The step waits although alpha's agent has room; a global agent connecting later takes it.
  const global = rawAgent(hub.grpcAddress, await hub.newAgentToken('global'), { agentName: 'global' });
  defer(() => global.close());
  expect((await global.next('assign')).context?.team).toBe('main');
  expect(alphaAgent.received.filter((m) => m.msg?.$case === 'assign')).toEqual([]);
});
