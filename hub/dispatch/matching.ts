// Routing rules (design §3), pure: which pools may take a step, and why none can.

import type { AgentConnection, PoolInfo, StepSpec } from './types.js';

/** Concourse's rule: a tagged pool takes only steps that ask for all its tags; untagged steps go to untagged pools. */
export function poolAccepts(pool: PoolInfo, spec: StepSpec): boolean {
  const resource = spec.resource;
  if (resource?.builtin) {
    // A built-in type runs inside the agent on a pool that lists it, or (when the hub sent the
    // type's image too) from the image on a Linux pool that can run images.
    const inside = pool.builtinTypes.includes(resource.type);
    const fromImage = spec.image !== undefined && pool.platform === 'linux' && pool.executor !== 'process';
    if (!inside && !fromImage) return false;
  } else if (spec.platform !== '' && pool.platform !== spec.platform) return false;
  if (spec.tags.length === 0) return pool.tags.length === 0;
  return spec.tags.every((tag) => pool.tags.includes(tag));
}

export function agentMayRun(agent: AgentConnection, spec: StepSpec): boolean {
  return agent.teamName === null || agent.teamName === spec.team;
}

export interface Candidate {
  agent: AgentConnection;
  pool: PoolInfo;
  inUse: number;
}

/**
 * Among eligible pools with free capacity: the preferred agent's (it holds the step's inputs), else the
 * least loaded by fraction of capacity used.
 */
export function pickCandidate(candidates: Candidate[], preferAgent?: string): Candidate | undefined {
  let best: Candidate | undefined;
  for (const c of candidates) {
    if (c.inUse >= c.pool.capacity) continue;
    if (preferAgent !== undefined && c.agent.agentName === preferAgent) return c;
    if (!best || c.inUse / c.pool.capacity < best.inUse / best.pool.capacity) best = c;
  }
  return best;
}

/** Why a step under a lease does not progress: its agent has not accepted it, or is gone for now. */
export function leaseWaitingReason(
  agentName: string,
  stage: 'assigned' | 'running',
  agentConnected: boolean,
): string | undefined {
  if (stage === 'running')
    return agentConnected
      ? undefined
      : `agent "${agentName}" is disconnected; the step keeps its lease for the grace period`;
  return agentConnected
    ? `assigned to agent "${agentName}", waiting for it to accept`
    : `assigned to agent "${agentName}", which is disconnected; waiting for it to come back`;
}

/** The sentence a waiting build shows: what it needs and what is missing. */
export function waitingReason(spec: StepSpec, candidates: Candidate[]): string {
  const what = spec.resource?.builtin
    ? `the built-in resource type ${spec.resource.type}`
    : spec.platform
      ? `platform=${spec.platform}`
      : 'any platform';
  const wants = `${what}${spec.tags.length ? ` with tags [${spec.tags.join(', ')}]` : ''}`;
  if (candidates.length === 0) return `no connected agent offers ${wants}`;
  return `every pool that offers ${wants} is at capacity (${candidates
    .map((c) => `${c.agent.agentName}/${c.pool.name} ${c.inUse}/${c.pool.capacity}`)
    .join(', ')})`;
}
