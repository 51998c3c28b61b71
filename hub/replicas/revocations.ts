// Replicas on PostgreSQL: a token revoked through one replica's API must end the sessions it opened on
// every replica (an agent's stream lives on whichever replica it dialled). The revoking replica sends a
// `token_revoked` hint; each other replica reads the token and closes its own sessions of it. New
// sessions and API calls are refused everywhere anyway: every replica checks tokens in the store.

import type { Logger } from 'pino';
import type { TokenService } from '../auth/tokens.js';
import type { Store, TokenRecord } from '../store/store.js';
import type { ReplicaSignals } from './signals.js';

export function relayRevocations(
  signals: ReplicaSignals,
  tokens: TokenService,
  store: Store,
  log: Logger,
): void {
  tokens.onRevoked((token, by) => {
    if (by === 'here') signals.publish('token_revoked', `${signals.replicaId} ${token.kind} ${token.id}`);
  });
  signals.on('token_revoked', (payload) => {
    const [replica, kind, id] = payload.split(' ');
    if (replica === signals.replicaId || (kind !== 'agent' && kind !== 'api')) return;
    store.listTokens(kind).then(
      (list) => {
        const token = list.find((t: TokenRecord) => t.id === Number(id));
        if (token?.revokedAt != null) tokens.revokedByReplica(token);
      },
      (err: unknown) => log.warn({ err, tokenId: id }, 'could not read a token revoked by another replica'),
    );
  });
}
