// Who may take an agent identity (`CLUSTER/NAME`) whose session is gone but whose steps still wait for
// it. The session map alone says who holds a *connected* name; a holder cut off mid-step keeps its
// leases for the grace, and another token welcomed under its name in that time would make those steps
// "lost" and then keep the real agent out. The name stays the holder token's until its leases end.

import type { Dispatcher } from '../dispatch/dispatcher.js';
import type { Store } from '../store/store.js';

export interface IdentityClaimDeps {
  store: Store;
  dispatcher: Pick<Dispatcher, 'holdsLeasesOf'>;
}

/**
 * Why the agent of token `tokenId` may not take `identity` now (undefined: it may): the identity's
 * leases were handed to another agent token that is still valid. A revoked holder token gives its
 * name up, so that an operator rotating a token can bring the agent back with the new one at once.
 */
export async function identityClaimRefusal(
  deps: IdentityClaimDeps,
  identity: string,
  tokenId: number,
): Promise<string | undefined> {
  if (!deps.dispatcher.holdsLeasesOf(identity)) return undefined;
  const holder = (await deps.store.getAgent(identity))?.tokenId;
  if (holder === undefined || holder === null || holder === tokenId) return undefined;
  const token = (await deps.store.listTokens('agent')).find((t) => t.id === holder);
  if (!token || token.revokedAt !== null) return undefined;
  return (
    `agent "${identity}" holds running steps under another agent token; they wait for that agent ` +
    'until they end or their lease grace passes (revoke its token to hand the name over now)'
  );
}
