// What an agent may say about itself is fixed by its token (design §8): a Hello is checked against
// the token's AgentBounds, never believed. Pure, so every field's refusal is tested in isolation.

import type { PoolInfo } from '../dispatch/types.js';
import type { AgentBounds } from '../store/store.js';

/** The field of a Hello that went beyond its token; the metric's `reason` label. */
export type BoundField = 'name' | 'pool' | 'platform' | 'tag' | 'capacity';

export interface BoundsViolation {
  field: BoundField;
  /** For the agent and the hub's log: names the field, what was claimed and what the token allows. */
  message: string;
}

/** The first claim of a Hello (identity `CLUSTER/NAME`, pools) that its token does not allow. */
export function boundsViolation(
  tokenName: string,
  bounds: AgentBounds | null,
  identity: string,
  pools: readonly PoolInfo[],
): BoundsViolation | undefined {
  if (!bounds) return undefined;
  const refuse = (field: BoundField, claim: string, allowed: string): BoundsViolation => ({
    field,
    message: `agent token "${tokenName}" does not allow ${claim} (${field}: it allows ${allowed})`,
  });
  if (bounds.agent !== undefined && identity !== bounds.agent)
    return refuse('name', `the agent name "${identity}"`, `"${bounds.agent}" only`);
  if (bounds.agentPrefix !== undefined && !identity.startsWith(bounds.agentPrefix))
    return refuse('name', `the agent name "${identity}"`, `names starting with "${bounds.agentPrefix}"`);
  for (const pool of pools) {
    if (bounds.pools && !bounds.pools.includes(pool.name))
      return refuse('pool', `pool "${pool.name}"`, list(bounds.pools));
    if (bounds.platforms && !bounds.platforms.includes(pool.platform))
      return refuse('platform', `platform "${pool.platform}" (pool "${pool.name}")`, list(bounds.platforms));
    const tag = bounds.tags && pool.tags.find((t) => !bounds.tags?.includes(t));
    if (bounds.tags && tag !== undefined)
      return refuse('tag', `tag "${tag}" (pool "${pool.name}")`, list(bounds.tags));
  }
  const capacity = pools.reduce((sum, p) => sum + p.capacity, 0);
  if (bounds.maxCapacity !== undefined && capacity > bounds.maxCapacity)
    return refuse('capacity', `a capacity of ${capacity}`, `at most ${bounds.maxCapacity}`);
  return undefined;
}

function list(values: readonly string[]): string {
  return values.length === 0 ? 'none' : values.join(', ');
}
