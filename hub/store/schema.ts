// The database as Kysely sees it: one interface per table, snake_case columns as stored. Booleans are
// integers (0/1) and JSON values are text, so the same tables work on SQLite and PostgreSQL; the store
// converts both in its row mapping. Timestamps are Unix milliseconds (bigint columns).

import type { ColumnType, Generated } from 'kysely';

/** 0 or 1. */
export type IntBool = number;

/**
 * A bigint column. better-sqlite3 returns numbers; node-postgres returns bigint columns as strings, so
 * reads go through Number().
 */
export type BigIntColumn = ColumnType<number | string, number, number>;
export type NullableBigIntColumn = ColumnType<
  number | string | null,
  number | null | undefined,
  number | null
>;

export interface TeamsTable {
  id: Generated<number>;
  name: string;
}

export interface TokensTable {
  id: Generated<number>;
  name: string;
  hash: string;
  team_id: number | null;
  kind: string;
  created_at: BigIntColumn;
  revoked_at: NullableBigIntColumn;
  last_used_at: NullableBigIntColumn;
  /** API tokens: the role in `team_id`; null for agent tokens. */
  role: string | null;
  expires_at: NullableBigIntColumn;
  /** Login tokens: the user whose team roles the token carries (read live, so a removed role ends at once). */
  user_id: number | null;
  /** Agent tokens: what the agent may claim (AgentBounds as JSON); null: anything. */
  agent_bounds: string | null;
}

export interface UsersTable {
  id: Generated<number>;
  name: string;
  /** '' for a user who logs in through OpenID Connect. */
  password_hash: string;
  created_at: BigIntColumn;
  /** OIDC users: the provider's `sub`; null for local users. */
  oidc_subject: ColumnType<string | null, string | null | undefined, string | null>;
  /** OIDC users: JSON array of the groups their last login carried. */
  oidc_groups: ColumnType<string | null, string | null | undefined, string | null>;
}

/** The OIDC groups and users (`kind` 'group' or 'user') a team gives a role. */
export interface TeamOidcRolesTable {
  team_id: number;
  kind: string;
  name: string;
  role: string;
}

export interface AuditLogTable {
  id: Generated<number>;
  at: BigIntColumn;
  actor: string;
  team: string | null;
  action: string;
  target: string;
  /** The caller's address. */
  source: string;
  /** The HTTP status of the answer. */
  status: number;
}

export interface TeamMembersTable {
  team_id: number;
  user_id: number;
  role: string;
}

export interface PipelinesTable {
  id: Generated<number>;
  team_id: number;
  name: string;
  paused: IntBool;
  /** Exposed: readable without login. */
  public: ColumnType<IntBool, IntBool | undefined, IntBool>;
  config_version: number;
  created_at: BigIntColumn;
  updated_at: BigIntColumn;
  archived: ColumnType<IntBool, IntBool | undefined, IntBool>;
  /** order-pipelines' position: negative once ordered, 0 never ordered (then by id). */
  ordering: ColumnType<number, number | undefined, number>;
  /** order-instanced-pipelines' position within the instance group, as `ordering` (migration 0022). */
  instance_ordering: ColumnType<number, number | undefined, number>;
  /** The job whose set_pipeline step set this pipeline; null when set by a user. */
  parent_job_id: ColumnType<number | null, number | null | undefined, number | null>;
  /** 'pipeline', or 'one-off' for the hidden pipeline that holds a team's one-off builds. */
  kind: ColumnType<string, string | undefined, string>;
  /**
   * An instance's instance vars as canonical JSON; null for a pipeline without. `name` is then the
   * instance's key, `name/` + this JSON (migration 0017).
   */
  instance_vars: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface PipelineConfigsTable {
  pipeline_id: number;
  version: number;
  source: string;
  created_at: BigIntColumn;
}

export interface JobsTable {
  id: Generated<number>;
  pipeline_id: number;
  name: string;
  /** JSON of the compiled PlanNode. */
  plan: string;
  active: IntBool;
  paused: ColumnType<IntBool, IntBool | undefined, IntBool>;
  next_build_number: ColumnType<number, number | undefined, number>;
  /** The job's position in the latest config: listJobs sorts by it. */
  config_order: number;
  /** JSON of the job's BuildRetention; null keeps every build. */
  retention: ColumnType<string | null, string | null | undefined, string | null>;
  /** 'job'; 'check' for the hidden job whose builds check a resource; 'one-off' for `execute`'s. */
  kind: ColumnType<string, string | undefined, string>;
  /** JSON of the job's JobSchedule; null: no limits. */
  schedule: ColumnType<string | null, string | null | undefined, string | null>;
}

/** Input archives a team uploaded for one-off builds (which may bind only these). */
export interface TeamArtifactsTable {
  team_id: number;
  digest: string;
  created_at: BigIntColumn;
}

export interface BuildArtifactsTable {
  build_id: number;
  digest: string;
}

export interface BuildsTable {
  id: Generated<number>;
  team_id: number;
  pipeline_id: number;
  job_id: number;
  name: string;
  status: string;
  /** JSON of the PlanNode frozen at creation. */
  plan: string;
  abort_requested: ColumnType<IntBool, IntBool | undefined, IntBool>;
  manual: ColumnType<IntBool, IntBool | undefined, IntBool>;
  pending_reason: ColumnType<string | null, string | null | undefined, string | null>;
  check_request: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: BigIntColumn;
  started_at: NullableBigIntColumn;
  ended_at: NullableBigIntColumn;
  /** Log payload bytes stored for the build (counted against the hub's per-build log cap). */
  log_bytes: ColumnType<number | string, number | undefined, number>;
  /** 1 once the build's log hit the cap: later chunks are acknowledged but not stored. */
  log_truncated: ColumnType<IntBool, IntBool | undefined, IntBool>;
  /** A rerun's original build (the first of its `N`, `N.1`, `N.2` ...); null for other builds. */
  rerun_of: ColumnType<number | null, number | null | undefined, number | null>;
}

export interface StepRunsTable {
  id: Generated<number>;
  build_id: number;
  plan_id: string;
  name: string;
  status: string;
  /** JSON of the dispatchable spec. */
  spec: string;
  lease_id: string | null;
  agent_name: string | null;
  pool: string | null;
  log_seq: ColumnType<number, number | undefined, number>;
  exit_status: number | null;
  error: string | null;
  created_at: BigIntColumn;
  started_at: NullableBigIntColumn;
  ended_at: NullableBigIntColumn;
  /** JSON of what the finished step leaves for its build (outputs, a loaded var); null until then. */
  result: string | null;
  /** Replicas on PostgreSQL: when the pending run started waiting for an agent; null otherwise. */
  queued_at: NullableBigIntColumn;
  prefer_agent: ColumnType<string | null, string | null | undefined, string | null>;
  /** Replicas on PostgreSQL: the replica holding the lease (the agent's stream). */
  holder: ColumnType<string | null, string | null | undefined, string | null>;
  /** JSON of the StepEnding an abort asked for, waiting for the lease's holder. */
  abort_ending: ColumnType<string | null, string | null | undefined, string | null>;
  /** The lease under which the agent said the run's process started (its start event went out then). */
  started_lease_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** Replicas: why the queued run waits for an agent, as last found by a replica with agents. */
  waiting_reason: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface BuildEventsTable {
  build_id: number;
  seq: number;
  type: string;
  version: string;
  /** JSON of the event's data; for a log event with `payload`, without its payload field. */
  data: string;
  at: BigIntColumn;
  /**
   * A log event's payload, the UTF-8 bytes its chunk carried (migration 0026); null for other events and
   * for log events stored before, whose payload is inside `data`.
   */
  payload: ColumnType<Buffer | null, Buffer | null | undefined, Buffer | null>;
}

/** Where a step's log stands after a log event (hub/log-text/log-position.ts). */
export interface BuildLogPositionsTable {
  build_id: number;
  seq: number;
  step: string;
  line: number;
  partial: IntBool;
  sgr: string;
}

/** Where each step's log stands after its last event; the next append advances it. */
export interface BuildLogStepsTable {
  build_id: number;
  step: string;
  line: number;
  partial: IntBool;
  sgr: string;
  unfinished: string;
}

export interface AgentsTable {
  name: string;
  cluster: string;
  version: string;
  /** JSON of AgentPoolRecord[]. */
  pools: string;
  state: string;
  token_id: number | null;
  connected_at: NullableBigIntColumn;
  last_heartbeat_at: NullableBigIntColumn;
  /** The gateway session that last connected the agent (a state write from another is stale). */
  session_id: string | null;
  /** Replicas: the API URL of the replica holding the agent's stream (null for a single hub). */
  replica_url: string | null;
}

/** A started OpenID Connect login, until its callback takes it (hub/auth/oidc.ts). */
export interface SigningKeysTable {
  kid: string;
  /** 'RSA' | 'EC'. */
  kty: string;
  /** JSON of the private JWK (encrypted at rest). */
  private_jwk: string;
  public_jwk: string;
  created_at: BigIntColumn;
}

export interface OidcLoginsTable {
  /** sha256 of the login's state, hex. */
  state_hash: string;
  /** JSON of OidcLoginContext. */
  context: string;
  code_verifier: string;
  nonce: string;
  expires_at: BigIntColumn;
}

export interface ResourceVersionsTable {
  id: Generated<number>;
  pipeline_id: number;
  /** 'resource' or 'type'. */
  scope: string;
  name: string;
  /** Hash of the type and source: a new source starts a new history. */
  config_hash: string;
  /** Canonical JSON of the version (sorted keys). */
  version: string;
  /** JSON of [{ name, value }]. */
  metadata: string;
  check_order: number;
  disabled: ColumnType<IntBool, IntBool | undefined, IntBool>;
  created_at: BigIntColumn;
}

export interface ResourceStatesTable {
  pipeline_id: number;
  scope: string;
  name: string;
  config_hash: string;
  check_status: string | null;
  check_error: string | null;
  last_check_started_at: NullableBigIntColumn;
  last_check_ended_at: NullableBigIntColumn;
  /** Canonical JSON of the version pinned through the API. */
  pinned_version: string | null;
  pin_comment: string | null;
}

export interface BuildResourcesTable {
  build_id: number;
  /** 'input' (a get) or 'output' (a put). */
  direction: string;
  /** The get's name for inputs, the resource's for outputs. */
  name: string;
  resource: string;
  version_id: number;
}

export interface ResourceCachesTable {
  key: string;
  /** The version history (VersionKey.configHash) the fetch belongs to; null for rows cached before 0011. */
  config_hash: ColumnType<string | null, string | null | undefined, string | null>;
  digest: string;
  size: BigIntColumn;
  version: string;
  metadata: string;
  created_at: BigIntColumn;
}

export interface StepUploadsTable {
  step_run_id: number;
  lease_id: string;
  name: string;
  digest: string;
  size: BigIntColumn;
}

export interface TaskCacheGenerationsTable {
  job_id: number;
  step_name: string;
  generation: number;
}

export interface Database {
  step_uploads: StepUploadsTable;
  teams: TeamsTable;
  tokens: TokensTable;
  users: UsersTable;
  team_members: TeamMembersTable;
  team_oidc_roles: TeamOidcRolesTable;
  audit_log: AuditLogTable;
  pipelines: PipelinesTable;
  pipeline_configs: PipelineConfigsTable;
  jobs: JobsTable;
  builds: BuildsTable;
  step_runs: StepRunsTable;
  build_events: BuildEventsTable;
  build_log_positions: BuildLogPositionsTable;
  build_log_steps: BuildLogStepsTable;
  /** Builds from before build_log_positions: their logs are indexed by reading their events. */
  build_log_unindexed: { build_id: number };
  agents: AgentsTable;
  oidc_logins: OidcLoginsTable;
  signing_keys: SigningKeysTable;
  build_artifacts: BuildArtifactsTable;
  team_artifacts: TeamArtifactsTable;
  resource_versions: ResourceVersionsTable;
  resource_states: ResourceStatesTable;
  build_resources: BuildResourcesTable;
  resource_caches: ResourceCachesTable;
  task_cache_generations: TaskCacheGenerationsTable;
}
