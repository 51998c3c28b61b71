// Agents are known by CLUSTER/NAME (hub/gateway/session.ts agentIdentity), no longer by their name
// alone. Rows written before keep their identity: the agent row and the step runs naming it get the
// cluster in front, so steps in flight across the upgrade still belong to the agent when it reconnects.

import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    UPDATE step_runs
    SET agent_name = (SELECT a.cluster || '/' || a.name FROM agents a WHERE a.name = step_runs.agent_name)
    WHERE agent_name IN (SELECT name FROM agents WHERE name NOT LIKE '%/%')
  `.execute(db);
  await sql`UPDATE agents SET name = cluster || '/' || name WHERE name NOT LIKE '%/%'`.execute(db);
}

// The name is CLUSTER/NAME, so the old name starts after the cluster and its slash (no `instr` in
// PostgreSQL, no `position` in SQLite).
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    UPDATE step_runs
    SET agent_name = (SELECT substr(a.name, length(a.cluster) + 2) FROM agents a WHERE a.name = step_runs.agent_name)
    WHERE agent_name IN (SELECT name FROM agents WHERE name LIKE '%/%')
  `.execute(db);
  await sql`UPDATE agents SET name = substr(name, length(cluster) + 2) WHERE name LIKE '%/%'`.execute(db);
}
