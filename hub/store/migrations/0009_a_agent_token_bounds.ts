// An agent token fixes what its agent may claim: the identity (one CLUSTER/NAME, or a prefix for a
// StatefulSet), the pools, platforms and tags it may offer and its total capacity. Kept as one JSON
// text column (hub/store/store.ts AgentBounds); null for tokens created before, which stay unbounded.

import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('tokens').addColumn('agent_bounds', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('tokens').dropColumn('agent_bounds').execute();
}
