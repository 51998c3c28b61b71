// State every hub replica must see, not only the one that wrote it (issue 19):
// - oidc_logins: an OpenID Connect login between its start and its callback (PKCE verifier, nonce and
//   where to go after), keyed by a hash of its state. The callback may reach another replica than the
//   start did (a round-robin load balancer), so the login lives in the database; a state is taken once.
// - agents.session_id: the gateway session that last connected the agent. A replica writing a state
//   for its (maybe stale) session names it, so a late "disconnected" from a replica the agent left does
//   not overwrite the "connected" of the replica that holds the agent now.
// - agents.replica_url: where the replica holding the agent's stream serves its API to the others, so
//   that an intercept asked of any replica is forwarded to the one that can open the agent's tunnel.

import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('oidc_logins')
    .addColumn('state_hash', 'text', (c) => c.primaryKey())
    .addColumn('context', 'text', (c) => c.notNull())
    .addColumn('code_verifier', 'text', (c) => c.notNull())
    .addColumn('nonce', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('oidc_logins_expires_at').on('oidc_logins').column('expires_at').execute();
  await db.schema.alterTable('agents').addColumn('session_id', 'text').execute();
  await db.schema.alterTable('agents').addColumn('replica_url', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('agents').dropColumn('replica_url').execute();
  await db.schema.alterTable('agents').dropColumn('session_id').execute();
  await db.schema.dropTable('oidc_logins').execute();
}
