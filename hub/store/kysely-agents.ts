// The Store's agents on Kysely: the last Hello of each agent name, its state and heartbeat.

import type { Kysely } from 'kysely';
import { conflictsAs } from './constraint-errors.js';
import { json, toAgent } from './rows.js';
import type { Database } from './schema.js';
import type { AgentRecord, Store } from './store.js';

export class KyselyAgents implements Pick<
  Store,
  'upsertAgent' | 'getAgent' | 'listAgents' | 'setAgentState' | 'touchAgents'
> {
  constructor(private readonly db: Kysely<Database>) {}

  async upsertAgent(agent: AgentRecord): Promise<void> {
    const values = {
      cluster: agent.cluster,
      version: agent.version,
      pools: json(agent.pools),
      state: agent.state,
      token_id: agent.tokenId,
      connected_at: agent.connectedAt,
      last_heartbeat_at: agent.lastHeartbeatAt,
      session_id: agent.sessionId,
      replica_url: agent.replicaUrl,
    };
    await conflictsAs(`agent "${agent.name}" (unknown token?)`, () =>
      this.db
        .insertInto('agents')
        .values({ name: agent.name, ...values })
        .onConflict((oc) => oc.column('name').doUpdateSet(values))
        .execute(),
    );
  }

  async getAgent(name: string): Promise<AgentRecord | undefined> {
    const row = await this.db.selectFrom('agents').selectAll().where('name', '=', name).executeTakeFirst();
    return row && toAgent(row);
  }

  async listAgents(): Promise<AgentRecord[]> {
    const rows = await this.db.selectFrom('agents').selectAll().orderBy('name').execute();
    return rows.map(toAgent);
  }

  async setAgentState(
    name: string,
    state: AgentRecord['state'],
    at: number,
    session?: string,
  ): Promise<boolean> {
    // Connecting is a sign of life too; other states keep the last connect and heartbeat times.
    const set = state === 'connected' ? { state, connected_at: at, last_heartbeat_at: at } : { state };
    let update = this.db.updateTable('agents').set(set).where('name', '=', name);
    // The fence: a session the agent has left (it reconnected, maybe to another replica) writes nothing.
    if (session !== undefined) update = update.where('session_id', '=', session);
    const result = await update.executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async touchAgents(names: string[], at: number): Promise<void> {
    if (names.length === 0) return;
    await this.db.updateTable('agents').set({ last_heartbeat_at: at }).where('name', 'in', names).execute();
  }
}
