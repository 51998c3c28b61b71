import { describe, expect, it } from 'vitest';
import { agentMayRun, pickCandidate, poolAccepts, waitingReason, type Candidate } from './matching.js';
import type { AgentConnection, PoolInfo, StepSpec } from './types.js';

const pool = (name: string, platform: string, tags: string[] = [], capacity = 2): PoolInfo => ({
  name,
  platform,
  tags,
  executor: 'process',
  capacity,
  builtinTypes: ['git', 'mock', 'time'],
});

const spec = (platform: string, tags: string[] = [], team = 'main'): StepSpec => ({
  platform,
  tags,
  team,
  run: { path: 'true', args: [], dir: '', user: '' },
  env: {},
  inputs: [],
  outputs: [],
  privileged: false,
  timeoutMs: 0,
  memoryLimitBytes: 0,
  cpuShares: 0,
  redact: [],
  cachePaths: [],
});

const agent = (agentName: string, teamName: string | null = null): AgentConnection => ({
  agentName,
  cluster: 'c',
  pools: [],
  teamName,
  draining: false,
  assign: () => undefined,
  abort: () => undefined,
  revoke: () => undefined,
  intercept: () => undefined,
  buildEnded: () => undefined,
  caughtUp: () => Promise.resolve(),
});

describe('routing rules', () => {
  it('sends untagged steps only to untagged pools of the same platform', () => {
    expect(poolAccepts(pool('a', 'linux'), spec('linux'))).toBe(true);
    expect(poolAccepts(pool('a', 'linux', ['gpu']), spec('linux'))).toBe(false);
    expect(poolAccepts(pool('a', 'windows'), spec('linux'))).toBe(false);
  });

  it('sends tagged steps only to pools that have every tag', () => {
    expect(poolAccepts(pool('a', 'linux', ['gpu', 'large']), spec('linux', ['gpu']))).toBe(true);
    expect(poolAccepts(pool('a', 'linux', ['gpu']), spec('linux', ['gpu', 'large']))).toBe(false);
    expect(poolAccepts(pool('a', 'linux'), spec('linux', ['gpu']))).toBe(false);
  });

  it('lets a team-scoped agent run only its team’s steps', () => {
    expect(agentMayRun(agent('g'), spec('linux', [], 'any'))).toBe(true);
    expect(agentMayRun(agent('t', 'main'), spec('linux', [], 'main'))).toBe(true);
    expect(agentMayRun(agent('t', 'main'), spec('linux', [], 'other'))).toBe(false);
  });

  it('picks the least loaded pool with room, and none when all are full', () => {
    const busy: Candidate = { agent: agent('a'), pool: pool('p', 'linux', [], 4), inUse: 3 };
    const idle: Candidate = { agent: agent('b'), pool: pool('p', 'linux', [], 4), inUse: 1 };
    const full: Candidate = { agent: agent('c'), pool: pool('p', 'linux', [], 1), inUse: 1 };
    expect(pickCandidate([busy, idle, full])?.agent.agentName).toBe('b');
    expect(pickCandidate([full])).toBeUndefined();
    expect(pickCandidate([busy, idle], 'a')?.agent.agentName).toBe('a');
    expect(pickCandidate([busy, idle, full], 'c')?.agent.agentName).toBe('b');
  });

  it('sends a built-in resource type only to pools that run it, or from its image to a linux image pool', () => {
    const check = (type: string, image?: StepSpec['image']): StepSpec => ({
      ...spec(''),
      ...(image ? { image } : {}),
      resource: { kind: 'check', type, builtin: true, source: {}, params: {}, version: undefined },
    });
    const old = pool('old', 'darwin');
    const current = {
      ...pool('new', 'windows'),
      builtinTypes: ['git', 'mock', 'registry-image', 'semver', 'time'],
    };
    const k8s = { ...pool('k8s', 'linux'), executor: 'kubernetes' };
    expect(poolAccepts(old, check('git'))).toBe(true);
    expect(poolAccepts(old, check('registry-image'))).toBe(false);
    expect(poolAccepts(current, check('registry-image'))).toBe(true);
    expect(poolAccepts(k8s, check('registry-image'))).toBe(false);
    const image = { repository: 'concourse/registry-image-resource', tag: 'latest', digest: '' };
    expect(poolAccepts(k8s, check('registry-image', image))).toBe(true);
    expect(poolAccepts(old, check('registry-image', image))).toBe(false);
    expect(waitingReason(check('semver'), [])).toBe(
      'no connected agent offers the built-in resource type semver',
    );
  });

  it('explains in words why a step waits', () => {
    expect(waitingReason(spec('windows', ['gpu']), [])).toBe(
      'no connected agent offers platform=windows with tags [gpu]',
    );
    const full: Candidate = { agent: agent('a1'), pool: pool('lin', 'linux', [], 1), inUse: 1 };
    expect(waitingReason(spec('linux'), [full])).toBe(
      'every pool that offers platform=linux is at capacity (a1/lin 1/1)',
    );
  });
});
