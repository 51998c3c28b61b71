// Schema migrations, listed in code rather than found on disk so they run the same from tsx and from
// the compiled dist. Kysely applies them in name order and records what it applied (kysely_migration).
//
// Every migration runs on SQLite and on PostgreSQL (hub/store/sqlite.test.ts runs the store suite on
// both). To keep it so, write them with Kysely's schema builder and:
// - ids: `.addColumn('id', 'integer', (col) => col.primaryKey().autoIncrement())`; on PostgreSQL the
//   migrator compiles it to an identity column (identity-columns.ts);
// - timestamps `bigint` Unix ms, booleans `integer` 0/1, JSON as `text`; other ids `integer`;
// - raw SQL only in functions both have (`||`, `substr`, `length`, `coalesce`, `lower`); no `instr`,
//   `ifnull`, `json_*`, `datetime`; no PRAGMA.
// Both dialects run a migration in a transaction (a failure rolls it back whole). On PostgreSQL the
// Migrator also takes an advisory lock, so replicas starting together apply each migration once.

import { Migrator, PostgresAdapter } from 'kysely';
import type { Kysely, Migration, MigrationProvider } from 'kysely';
import type { Logger } from 'pino';
import * as m0001 from './0001_initial.js';
import * as m0002 from './0002_step_results.js';
import * as m0003 from './0003_retention.js';
import * as m0004 from './0004_resources.js';
import * as m0005 from './0005_build_log_bytes.js';
import * as m0006 from './0006_agent_identity.js';
import * as m0007 from './0007_teams_users.js';
import * as m0008 from './0008_pending_builds_index.js';
import * as m0009a from './0009_a_agent_token_bounds.js';
import * as m0009b from './0009_b_step_uploads.js';
import * as m0010 from './0010_people_audit.js';
import * as m0011 from './0011_pipeline_lifecycle.js';
import * as m0012 from './0012_one_off_builds.js';
import * as m0016 from './0016_concourse_events.js';
import * as m0017 from './0017_instanced_pipelines.js';
import * as m0018 from './0018_replica_dispatch.js';
import * as m0019 from './0019_build_log_positions.js';
import * as m0022 from './0022_instance_ordering.js';
import * as m0023 from './0023_step_process_started.js';
import * as m0024 from './0024_replica_state.js';
import * as m0026 from './0026_log_payload_bytes.js';
import * as m0030 from './0030_waiting_reason.js';
import * as m0033 from './0033_signing_keys.js';
import * as m0036 from './0036_step_runs_status_index.js';
import * as m0040 from './0040_team_members_user_index.js';
import { IdentityColumnsPlugin } from './identity-columns.js';

/** Every migration by name, in the order they apply (tests take a prefix of it). */
export const migrations: Record<string, Migration> = {
  '0001_initial': m0001,
  '0002_step_results': m0002,
  '0003_retention': m0003,
  '0004_resources': m0004,
  '0005_build_log_bytes': m0005,
  '0006_agent_identity': m0006,
  '0007_teams_users': m0007,
  '0008_pending_builds_index': m0008,
  '0009_a_agent_token_bounds': m0009a,
  '0009_b_step_uploads': m0009b,
  '0010_people_audit': m0010,
  '0011_pipeline_lifecycle': m0011,
  '0012_one_off_builds': m0012,
  '0016_concourse_events': m0016,
  '0017_instanced_pipelines': m0017,
  '0018_replica_dispatch': m0018,
  '0019_build_log_positions': m0019,
  '0022_instance_ordering': m0022,
  '0023_step_process_started': m0023,
  '0024_replica_state': m0024,
  '0026_log_payload_bytes': m0026,
  '0030_waiting_reason': m0030,
  '0033_signing_keys': m0033,
  '0036_step_runs_status_index': m0036,
  '0040_team_members_user_index': m0040,
};

/** A Migrator of `list` (all by default; tests give the ones before a migration) for the dialect of `db`. */
export function migrator(db: Kysely<unknown>, list: Record<string, Migration> = migrations): Migrator {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  const provider: MigrationProvider = { getMigrations: () => Promise.resolve(list) };
  return new Migrator({ db: postgres ? db.withPlugin(new IdentityColumnsPlugin()) : db, provider });
}

/**
 * Applies every migration not applied yet, in one transaction where the dialect allows; throws on
 * failure. Returns the names it applied, in order. `log`: the operator is told each one applied, by
 * name, or that the schema was up to date already.
 */
export async function migrateToLatest(db: Kysely<unknown>, log?: Logger): Promise<string[]> {
  const { error, results } = await migrator(db).migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? '(before any migration ran)';
    const reason = error instanceof Error ? error.message : JSON.stringify(error);
    throw new Error(`database migration ${failed} failed: ${reason}`, { cause: error });
  }
  const applied = (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
  for (const name of applied) log?.info({ migration: name }, `database migration ${name} applied`);
  if (applied.length === 0)
    log?.info(
      { migrations: Object.keys(migrations).length },
      `schema up to date (${Object.keys(migrations).length} migrations)`,
    );
  return applied;
}

/** The migrations this database has not applied yet, in the order they would apply. */
export async function pendingMigrations(db: Kysely<unknown>): Promise<string[]> {
  const all = await migrator(db).getMigrations();
  return all.filter((m) => m.executedAt === undefined).map((m) => m.name);
}
