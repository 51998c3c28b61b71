// The hub's persistence boundary. Everything the hub must not lose lives behind this interface: the
// SQLite implementation is the embedded default, PostgreSQL (same Kysely queries) comes for HA.
//
// Contract for implementations:
// - Every method is atomic: it either applies fully or not at all.
// - Timestamps are Unix milliseconds, set by the caller (so tests can control time).
// - Methods never return live references: callers may mutate what they get back.
// - "Not found" returns undefined; constraint violations throw StoreConflictError.

import type { InstanceVars, PipelineRef } from '../pipeline/instance-vars.js';
import type { PlanNode } from '../pipeline/plan.js';

export type BuildStatus = 'pending' | 'started' | 'succeeded' | 'failed' | 'errored' | 'aborted';
export type StepRunStatus =
  /** Waiting for an agent. */
  | 'pending'
  /** Sent to an agent, not yet accepted. */
  | 'assigned'
  /** Accepted by an agent (the lease holds). */
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'errored'
  | 'aborted';

export const TERMINAL_BUILD_STATUSES: readonly BuildStatus[] = ['succeeded', 'failed', 'errored', 'aborted'];

export interface Team {
  id: number;
  name: string;
}

/** Concourse's roles, weakest first: each can do what the ones before it can. */
export const ROLES = ['viewer', 'pipeline-operator', 'member', 'owner'] as const;
export type Role = (typeof ROLES)[number];

export interface TokenRecord {
  id: number;
  name: string;
  /** sha256 hex of the secret; the secret itself is never stored. */
  hash: string;
  /** Agent tokens: the team the token is scoped to, or null for a global token. API tokens: their team. */
  teamId: number | null;
  kind: 'agent' | 'api';
  createdAt: number;
  revokedAt: number | null;
  lastUsedAt: number | null;
  /** API tokens not issued to a user: the role they carry in `teamId`. */
  role: Role | null;
  /** After this instant (Unix ms) the token is refused; null: never expires. */
  expiresAt: number | null;
  /** Login tokens: the user, whose team roles are read at every request. */
  userId: number | null;
  /** Agent tokens: what an agent with this token may claim in its Hello; null: anything (older tokens). */
  bounds: AgentBounds | null;
}

/** A token as a caller presents it: with what its roles are read from (hub/auth/caller.ts). */
export interface FoundToken {
  token: TokenRecord;
  /** The token's team (`teamId`'s), if it has one. */
  team: Team | undefined;
  /** Login tokens: their user, and the user's team memberships (by team name); [] for other tokens. */
  user: User | undefined;
  memberships: Membership[];
}

/**
 * What an agent token allows its agent to say about itself (docs/security.md). Each absent field
 * leaves that part unbounded; the gateway refuses a Hello that claims more, naming the field.
 */
export interface AgentBounds {
  /** The one identity, `CLUSTER/NAME`, the agent may use. */
  agent?: string;
  /** Or a prefix of identities: a StatefulSet's `CLUSTER/RELEASE-` covers its pods `RELEASE-0`, `-1`... */
  agentPrefix?: string;
  /** Pool names the agent may offer. */
  pools?: string[];
  platforms?: string[];
  /** Tags its pools may carry. */
  tags?: string[];
  /** The most steps at once over all its pools (the sum of the pools' capacities). */
  maxCapacity?: number;
}

export type NewToken = Pick<TokenRecord, 'name' | 'hash' | 'teamId' | 'kind' | 'createdAt'> &
  Partial<Pick<TokenRecord, 'role' | 'expiresAt' | 'userId' | 'bounds'>>;

export interface User {
  id: number;
  name: string;
  /** The encoded scrypt hash with its parameters and salt (hub/auth/passwords.ts); '' for OIDC users. */
  passwordHash: string;
  createdAt: number;
  /** Set for a user who logs in through OpenID Connect: the provider's subject and last login's groups. */
  oidc: { subject: string; groups: string[] } | null;
}

/** A team's role for an OIDC group or user (`set-team --oidc-group` / `--oidc-user`). */
export interface OidcRoleRule {
  kind: 'group' | 'user';
  /** The group, or the user's name as the provider gives it (without the `oidc:` prefix). */
  name: string;
  role: Role;
}

export interface Membership {
  team: Team;
  user: string;
  role: Role;
}

/** Teams beyond `main`, and who holds which role in them. */
export interface TeamStore {
  create(name: string): Promise<Team>;
  list(): Promise<Team[]>;
  /** False when no team has this id. A StoreConflictError when `name` is taken. */
  rename(id: number, name: string): Promise<boolean>;
  /** Deletes the team and everything it owns (pipelines, builds, tokens, memberships). */
  destroy(id: number): Promise<boolean>;
  /** Replaces the team's members (as `set-team` replaces a team's auth config). */
  setMembers(teamId: number, members: { userId: number; role: Role }[]): Promise<void>;
  members(teamId: number): Promise<Membership[]>;
  /** Every team the user holds a role in as a member (OIDC rules are matched in hub/auth/caller.ts). */
  rolesOf(userId: number): Promise<Membership[]>;
  /** Replaces the team's OIDC rules. */
  setOidcRoles(teamId: number, rules: OidcRoleRule[]): Promise<void>;
  /** The OIDC rules of one team, or of every team (with the team they belong to). */
  oidcRoles(teamId?: number): Promise<(OidcRoleRule & { team: Team })[]>;
}

/** An output a lease uploaded to the artifact store: what its Finished must report. */
export interface StepUpload {
  stepRunId: number;
  leaseId: string;
  /** The output's name, from the upload's header. */
  name: string;
  digest: string;
  size: number;
}

/** The uploads of each lease, kept with the step run (deleted with it). */
export interface UploadStore {
  /** Records an upload; a second upload of the same output under the same lease replaces the first. */
  record(upload: StepUpload): Promise<void>;
  ofLease(leaseId: string): Promise<StepUpload[]>;
}

/** Local users: a name and a password hash. */
export interface UserStore {
  create(input: Omit<User, 'id' | 'oidc'>): Promise<User>;
  get(name: string): Promise<User | undefined>;
  getById(id: number): Promise<User | undefined>;
  list(): Promise<User[]>;
  setPassword(id: number, passwordHash: string): Promise<boolean>;
  /**
   * Records an OIDC login: the user with this subject (created, named `name`, on its first login) gets
   * the login's groups. A StoreConflictError when a new subject's name is taken.
   */
  upsertOidc(input: { subject: string; name: string; groups: string[]; at: number }): Promise<User>;
}

/** An OpenID Connect login between its start and its callback, as the store keeps it. */
export interface StoredOidcLogin {
  /** sha256 of the login's state (the state itself is the browser's and the provider's only). */
  stateHash: string;
  /** What the login carries to its callback (team, redirects), as JSON. */
  context: string;
  codeVerifier: string;
  nonce: string;
  expiresAt: number;
}

/**
 * Started OpenID Connect logins, shared by every hub replica (a callback may reach another replica than
 * the login's start). A login is taken once: of two callbacks with one state, one gets it.
 */
export interface OidcLoginStore {
  /** Records a login, and removes (garbage-collects) the logins expired at `now`. */
  put(login: StoredOidcLogin, now: number): Promise<void>;
  /** Logins started and not yet taken or expired at `now`. */
  pending(now: number): Promise<number>;
  /** Removes and returns the login; undefined when unknown, already taken, or expired at `now`. */
  take(stateHash: string, now: number): Promise<StoredOidcLogin | undefined>;
}

/** One state-changing request or login, as the audit log keeps it. */
export interface AuditEntry {
  id: number;
  at: number;
  /** A user's name, `token:<name>` for an API token, or `anonymous`. */
  actor: string;
  team: string | null;
  /** What was done: `trigger-job`, `login`, `set-pipeline`, ... */
  action: string;
  /** The request's path (never its query, which may carry a webhook token). */
  target: string;
  source: string;
  /** The HTTP status of the answer: below 400 it was done, else refused or failed. */
  status: number;
}

export interface AuditFilter {
  /** Only entries of these teams. */
  teams?: string[];
  actor?: string;
  since?: number;
  limit: number;
}

/** The audit log: appended by the API, read by admins and team owners, pruned by age. */
export interface AuditLogStore {
  record(entry: Omit<AuditEntry, 'id'>): Promise<void>;
  /** Newest first. */
  list(filter: AuditFilter): Promise<AuditEntry[]>;
  /** Deletes entries older than `before`; returns how many. */
  prune(before: number): Promise<number>;
}

export interface Pipeline {
  id: number;
  teamId: number;
  /** Its name; an instance shares it with the other instances of its group. */
  name: string;
  /** An instance's instance vars (set-pipeline -i, set_pipeline's instance_vars); undefined for a plain pipeline. */
  instanceVars?: InstanceVars;
  paused: boolean;
  /** Exposed (`expose-pipeline`): readable without login. */
  public: boolean;
  /** Archived with archive-pipeline (or as a set_pipeline child): paused, listed only with -a. */
  archived: boolean;
  /** Increases by one with every saved config. */
  configVersion: number;
  createdAt: number;
  updatedAt: number;
}

/**
 * How many config versions of a pipeline the store keeps (the latest ones): each may hold credentials,
 * so they are not kept for ever (docs/security.md).
 */
export const CONFIG_VERSIONS_KEPT = 10;

export interface PipelineConfigVersion {
  pipelineId: number;
  version: number;
  /** The YAML as the user sent it. */
  source: string;
  createdAt: number;
}

export type JobByPath =
  { missing: 'team' } | { missing: 'pipeline' } | { missing?: undefined; job: Job | undefined };

export interface Job {
  id: number;
  pipelineId: number;
  name: string;
  /** The job's compiled plan (JSON-safe). */
  plan: PlanNode;
  /** False once a later config no longer has the job. */
  active: boolean;
  paused: boolean;
  /** The name the next build gets ("1", "2", ...). */
  nextBuildNumber: number;
  /**
   * 'check': the hidden job whose builds check one resource or resource type (named CHECK_JOB_PREFIX...);
   * 'one-off': the hidden job of a team's one-off builds (`outpost execute`, see OneOffStore).
   */
  kind: 'job' | 'check' | 'one-off';
  schedule: JobSchedule;
}

/** How many builds of a job may run at once (`serial`, `serial_groups`, `max_in_flight`). */
export interface JobSchedule {
  /** 0: no limit. */
  maxInFlight: number;
  /** At most one build of all the jobs sharing a group runs at a time. */
  serialGroups: string[];
}

/** Concourse's build_log_retention: which finished builds of a job are kept. */
export interface BuildRetention {
  /** Keep at most this many finished builds (newest first). */
  builds?: number;
  /** Delete finished builds older than this many days. */
  days?: number;
  /** Whatever the rules above say, keep at least this many succeeded builds. */
  minimumSucceededBuilds?: number;
}

export interface Build {
  id: number;
  teamId: number;
  pipelineId: number;
  jobId: number;
  /** Per job, "1", "2", ... */
  name: string;
  status: BuildStatus;
  /** The plan the build runs, frozen at creation. */
  plan: PlanNode;
  /** Set by abort-build; the engine stops the build's steps. */
  abortRequested: boolean;
  /** Created by trigger-job (not by a new version): its unpinned inputs are checked before it starts. */
  manual: boolean;
  /** A rerun's original build (it reuses that build's inputs); null for other builds. */
  rerunOf: number | null;
  /** Why a pending build has not started yet, in words; null when it is not waiting. */
  pendingReason: string | null;
  /**
   * A check build's request: `from`, the version check-resource -f asked for; `shallow`, check only the
   * resource, not the types it runs on (check-resource --shallow).
   */
  checkRequest: { from?: Record<string, string>; shallow?: boolean } | null;
  createdAt: number;
  startedAt: number | null;
  endedAt: number | null;
}

/** A build with the names a user knows it by. */
export interface BuildView extends Build {
  teamName: string;
  pipelineName: string;
  /** The instance vars of the build's pipeline, when it is an instance. */
  pipelineInstanceVars?: InstanceVars;
  jobName: string;
  /** A one-off build (`outpost execute`): its pipeline and job are hidden ones, not the user's. */
  oneOff: boolean;
}

export interface StepRun {
  id: number;
  buildId: number;
  /** The plan node this run executes. */
  planId: string;
  name: string;
  status: StepRunStatus;
  /** The dispatchable spec (JSON-safe), resolved by the engine. */
  spec: unknown;
  /** The current lease; null while pending. A new lease id is minted for every assignment. */
  leaseId: string | null;
  agentName: string | null;
  pool: string | null;
  /** Highest log sequence stored for the current run (logs are deduplicated by it). */
  logSeq: number;
  exitStatus: number | null;
  error: string | null;
  createdAt: number;
  startedAt: number | null;
  endedAt: number | null;
  /** What the finished step leaves for its build (JSON-safe): outputs, a loaded var. Null until set. */
  result: unknown;
}

export interface BuildEvent {
  buildId: number;
  /** Per build, from 1, without gaps: the SSE event id. */
  seq: number;
  /** Concourse's event name: "log", "status", "initialize-task", ... */
  type: string;
  /** Concourse's event version for the type, e.g. "5.1". */
  version: string;
  /**
   * The event's data as JSON text. Kept serialized: a replay of a large build log need not parse and
   * re-serialize every chunk. For an event with `logPayload` it is built on first read (payload
   * included), so every reader sees the whole data; SSE frames such an event from its parts instead.
   */
  readonly json: string;
  /**
   * A log event stored with its payload apart (migration 0026): its data's JSON without the payload,
   * and the payload's UTF-8 bytes as the agent sent them. Absent for other events and older log events.
   */
  readonly logPayload?: { readonly data: string; readonly bytes: Buffer };
  at: number;
}

/** A build to create (Store.createBuild). */
export interface NewBuild {
  jobId: number;
  plan: PlanNode;
  at: number;
  manual?: boolean;
  checkRequest?: Build['checkRequest'];
}

/** A step run to create (Store.createStepRun). */
export interface NewStepRun {
  buildId: number;
  planId: string;
  name: string;
  spec: unknown;
  at: number;
  /** Created already assigned under this lease (Dispatcher.submit). */
  assigned?: { leaseId: string; agentName: string; pool: string };
  /**
   * The build's first step run: the build's start (pending -> started at this time) is stored in the
   * same transaction, before the step run; the announcement then carries its `status` event first.
   */
  startsBuild?: { at: number };
}

/** A build event to store, before its seq is allocated. */
export interface NewBuildEvent {
  buildId: number;
  type: string;
  version: string;
  data: unknown;
  at: number;
}

/**
 * Build events that announce a state change, stored in the same transaction, after it: never visible
 * before the state they announce, never lost once it is written, and not written when the change is
 * not (a fence that did not hold). `stored` gets them with their seqs once the transaction committed.
 */
export interface Announcement {
  events: NewBuildEvent[];
  stored(events: BuildEvent[]): void;
}

export interface AgentPoolRecord {
  name: string;
  platform: string;
  tags: string[];
  executor: string;
  capacity: number;
  /** Kubernetes pools, from the agent's last Hello (kept in the pools JSON; absent in older rows). */
  admission?: { verdict: 'admitted' | 'refused' | 'unknown'; message: string };
}

export interface AgentRecord {
  name: string;
  cluster: string;
  version: string;
  pools: AgentPoolRecord[];
  state: 'connected' | 'disconnected' | 'draining';
  tokenId: number | null;
  connectedAt: number | null;
  lastHeartbeatAt: number | null;
  /** The gateway session that last connected the agent; null: none recorded. */
  sessionId: string | null;
  /** Replicas: the API URL of the replica holding the agent's stream; null for a single hub. */
  replicaUrl: string | null;
}

export interface SavePipelineInput {
  teamId: number;
  name: string;
  /** Non-empty for an instance: the pipeline saved is (name, instanceVars). */
  instanceVars?: InstanceVars;
  source: string;
  /** `oldName`: the job's name before a rename (`old_name:`), whose builds it keeps. */
  jobs: {
    name: string;
    plan: PlanNode;
    oldName?: string;
    retention?: BuildRetention;
    kind?: Job['kind'];
    schedule?: JobSchedule;
  }[];
  /** Whether the pipeline starts paused when this creates it (default: no). */
  createPaused?: boolean;
  at: number;
}

export interface LogAppend {
  stepRunId: number;
  /** Must equal the step run's logSeq + 1 to be stored. */
  seq: number;
  event: { type: string; version: string; data: unknown };
  at: number;
  /** Payload bytes, counted against the build's log cap (see LogAppendOptions). */
  bytes?: number;
  /**
   * The log event's payload as valid UTF-8 bytes (hub/log-text/log-payload.ts), stored beside
   * `event.data`, which then has no `payload` field: the chunk is never decoded to a string on its way
   * to the store and to SSE.
   */
  payload?: Buffer;
}

export interface LogAppendOptions {
  /** A chunk that would take its build's stored log bytes past this is not stored (nor any later one). */
  maxBuildLogBytes?: number;
  /** The event stored once, in place of the first chunk a build's cap drops. */
  truncationMarker?: (dropped: LogAppend) => { type: string; version: string; data: unknown };
}

export type LogAppendResult =
  /** Stored; the step run's logSeq is now `seq`. */
  | { kind: 'stored'; event: BuildEvent }
  /**
   * Past the build's log cap: the step run's logSeq is now `seq` (so the sender moves on) but the chunk
   * is not stored. `marker` is the truncation event, stored with the first chunk dropped.
   */
  | { kind: 'truncated'; marker: BuildEvent | undefined }
  /** Already stored before (seq <= logSeq): dropped. */
  | { kind: 'duplicate' }
  /** A gap (seq > logSeq + 1): dropped; the sender must resend from logSeq + 1. */
  | { kind: 'gap'; logSeq: number };

export interface BuildFilter {
  teamId?: number;
  /** Only builds of these teams (the teams a caller may see); empty matches no build. */
  teamIds?: number[];
  pipelineId?: number;
  jobId?: number;
  statuses?: BuildStatus[];
  /** Only builds of jobs of this kind (or kinds); undefined: every kind. */
  jobKind?: Job['kind'] | Job['kind'][];
  /** Only builds with id < before (paging, newest first). */
  before?: number;
  /** Only builds started at or after this time (ms). */
  startedSince?: number;
  /** Only builds started at or before this time (ms). */
  startedUntil?: number;
  limit: number;
}

export interface Store {
  // Teams. The `main` team exists after migration.
  getTeam(name: string): Promise<Team | undefined>;
  getTeamById(id: number): Promise<Team | undefined>;

  // Tokens (agent tokens and API tokens share one table, told apart by `kind`).
  createToken(input: NewToken): Promise<TokenRecord>;
  listTokens(kind: TokenRecord['kind']): Promise<TokenRecord[]>;
  /** The token with its team, user and the user's memberships, in one read (each API call's caller). */
  findTokenByHash(hash: string): Promise<FoundToken | undefined>;
  /** Returns false when no such unrevoked token exists. */
  revokeToken(id: number, at: number): Promise<boolean>;
  touchToken(id: number, at: number): Promise<void>;

  // Pipelines and jobs.
  /**
   * Saves a new config version: creates the pipeline if needed, bumps configVersion, upserts its jobs
   * and marks jobs that are no longer in the config inactive.
   */
  savePipeline(input: SavePipelineInput): Promise<{ pipeline: Pipeline; created: boolean }>;
  /** The pipeline of that name without instance vars, or with `instanceVars` the instance. */
  getPipeline(teamId: number, name: string, instanceVars?: InstanceVars): Promise<Pipeline | undefined>;
  getPipelineById(id: number): Promise<Pipeline | undefined>;
  /** In the team's order; the instances of a group follow one another, where its first one stands. */
  listPipelines(teamId: number): Promise<Pipeline[]>;
  /** Every team's pipelines (the checker and the scheduler walk them all). */
  listAllPipelines(): Promise<Pipeline[]>;
  getPipelineConfig(pipelineId: number, version?: number): Promise<PipelineConfigVersion | undefined>;
  setPipelinePaused(id: number, paused: boolean, at: number): Promise<void>;
  /** Exposes (readable without login) or hides a pipeline. */
  setPipelinePublic(id: number, exposed: boolean, at: number): Promise<void>;
  /**
   * Renames the pipeline and, as Concourse does, every other instance of its group (each keeps its
   * instance vars). False when no pipeline has this id. A StoreConflictError when the team has a
   * pipeline `name` with the same instance vars.
   */
  renamePipeline(id: number, name: string, at: number): Promise<boolean>;
  /** Deletes the pipeline and all it owns (configs, jobs, builds and their logs, resource versions). */
  deletePipeline(id: number): Promise<boolean>;
  getJob(pipelineId: number, name: string): Promise<Job | undefined>;
  /**
   * A job by the names in an API path, in one read (a trigger's lookups): the job, or which of the team
   * and the pipeline (its key, pipeline-address.ts) does not exist. Any job of that name, active or not.
   */
  findJobByPath(team: string, pipeline: PipelineRef, job: string): Promise<JobByPath>;
  getJobById(id: number): Promise<Job | undefined>;
  /** Active jobs only, in config order; of kind 'job' unless asked for another. */
  listJobs(pipelineId: number, kind?: Job['kind']): Promise<Job[]>;
  setJobPaused(id: number, paused: boolean): Promise<void>;

  // Builds.
  /** Creates a pending build named after the job's nextBuildNumber, which it increments. */
  createBuild(input: NewBuild, write?: WriteOptions): Promise<BuildView>;
  getBuild(id: number): Promise<BuildView | undefined>;
  getBuildByName(jobId: number, name: string): Promise<BuildView | undefined>;
  /** Newest first. */
  listBuilds(filter: BuildFilter): Promise<BuildView[]>;
  /** Ids of the job's pending builds (a job's builds start in order: a new one waits for these). */
  pendingBuildsOfJob(job: { pipelineId: number; jobId: number }): Promise<number[]>;
  /** Sets status and, when given, startedAt / endedAt. */
  updateBuild(
    id: number,
    patch: {
      status?: BuildStatus;
      startedAt?: number;
      endedAt?: number;
      abortRequested?: boolean;
      pendingReason?: string | null;
    },
    announcement?: Announcement,
    write?: WriteOptions,
  ): Promise<void>;

  // Step runs.
  /** A pending step run, or with `assigned` one already assigned under that lease (Dispatcher.submit). */
  createStepRun(input: NewStepRun, announcement?: Announcement, write?: WriteOptions): Promise<StepRun>;
  getStepRun(id: number): Promise<StepRun | undefined>;
  getStepRunByLease(leaseId: string): Promise<StepRun | undefined>;
  listStepRuns(buildId: number): Promise<StepRun[]>;
  listStepRunsByStatus(statuses: StepRunStatus[]): Promise<StepRun[]>;
  /**
   * Records that the run's process started under `leaseId` (its current lease); true only the first time
   * for that lease (an agent may say Started again after a reconnect), so the start event goes out once.
   */
  markStepProcessStarted(id: number, leaseId: string, announcement?: Announcement): Promise<boolean>;
  /**
   * Compare-and-set: applies the patch only when the step run's current leaseId equals `expectLease`
   * (null for "no lease"). Returns false, changing nothing, when it does not: this is the fencing that
   * keeps a stale agent from touching a step that moved on.
   */
  updateStepRun(
    id: number,
    expectLease: string | null,
    patch: Partial<
      Pick<
        StepRun,
        | 'status'
        | 'leaseId'
        | 'agentName'
        | 'pool'
        | 'exitStatus'
        | 'error'
        | 'startedAt'
        | 'endedAt'
        | 'logSeq'
        | 'result'
      >
    >,
    /** Replicas: also require that this replica holds the lease (ReplicaDispatchStore.hold). */
    expectHolder?: string,
    announcement?: Announcement,
    write?: WriteOptions,
  ): Promise<boolean>;

  // Build events.
  /** Appends an event with the build's next seq. */
  appendBuildEvent(
    buildId: number,
    event: { type: string; version: string; data: unknown; at: number },
    write?: WriteOptions,
  ): Promise<BuildEvent>;
  /** Appends a log event for a step run, deduplicated by (step run, seq); see LogAppendResult. */
  appendLog(input: LogAppend): Promise<LogAppendResult>;
  /**
   * Appends many log chunks (of any step runs) in one transaction: one result per input, in order,
   * each exactly as appendLog would have answered had the inputs been appended one after the other.
   */
  appendLogs(inputs: LogAppend[], options?: LogAppendOptions): Promise<LogAppendResult[]>;
  /** Events with seq > afterSeq, ascending, at most `limit`. */
  listBuildEvents(buildId: number, afterSeq: number, limit: number): Promise<BuildEvent[]>;

  // Agents.
  upsertAgent(agent: AgentRecord): Promise<void>;
  getAgent(name: string): Promise<AgentRecord | undefined>;
  listAgents(): Promise<AgentRecord[]>;
  /**
   * Sets the agent's state. `session`: only while that session is the one that last connected the agent
   * (a replica the agent has left must not overwrite the state its new replica wrote); false otherwise.
   */
  setAgentState(name: string, state: AgentRecord['state'], at: number, session?: string): Promise<boolean>;
  /** Records that these agents were heard from at `at` (one statement for them all). */
  touchAgents(names: string[], at: number): Promise<void>;

  // Retention and artifact references.
  /** Records that a build produced these artifacts (kept while the build exists). */
  addBuildArtifacts(buildId: number, digests: string[]): Promise<void>;
  /** Every digest some remaining build references. */
  referencedDigests(): Promise<Set<string>>;
  /** Deletes finished builds that their job's retention no longer keeps (with their events and steps). */
  reapBuilds(now: number): Promise<number>;

  /** Resource versions, check state, build inputs/outputs and the resource cache. */
  readonly resources: ResourceStore;
  readonly teams: TeamStore;
  readonly users: UserStore;
  readonly oidcLogins: OidcLoginStore;
  readonly uploads: UploadStore;
  /** Reads of a build's event log beyond the in-order replay: the newest events first. */
  readonly buildEvents: BuildEventStore;
  readonly auditLog: AuditLogStore;
  readonly pipelineLifecycle: PipelineLifecycleStore;
  readonly reruns: RerunStore;
  readonly taskCaches: TaskCacheStore;
  readonly oneOffs: OneOffStore;
  readonly containers: ContainerStore;
  readonly signingKeys: SigningKeyStore;
  readonly replicaDispatch: ReplicaDispatchStore;

  /**
   * Resolves once every write made so far is committed: a write with `deferCommit` may resolve before
   * its commit, and whatever depends on it outside the hub waits for this (at once when none waits).
   */
  durable(): Promise<void>;
  /**
   * Writes made so far wait for their commit (SQLite's commit batch). A read may then return rows that
   * are not durable yet, so whatever leaves the hub waits for `durable()` while this is true; at once
   * otherwise (always false on PostgreSQL, where every write commits before it resolves).
   */
  uncommitted(): boolean;
  /**
   * Runs `then` once every write made so far is committed: at once when none waits, else right after
   * the commit, ahead of what awaits `durable()`. For messages that must leave as soon as they may (an
   * agent's Assign); `then` must not use the store.
   */
  whenDurable(then: () => void): void;
  close(): Promise<void>;
}

/**
 * `deferCommit`: the write may share its commit with later writes (SQLite's commit batch,
 * commit-batch.ts) and resolve before it; the hub's reads see it at once, so the caller, and every
 * path out of the hub, awaits `Store.durable()` before anything depending on it leaves the hub.
 * Elsewhere a plain commit.
 */
export interface WriteOptions {
  deferCommit?: boolean;
}

/** How a step stopped on the hub's behalf ends (dispatch's StepEnding, as stored). */
export interface StepEndingRequest {
  status: 'aborted' | 'failed';
  error: string;
}

export interface QueuedStepRun {
  run: StepRun;
  queuedAt: number;
  /** The agent holding the step's inputs, which gets it when it has room. */
  preferAgent: string | undefined;
  /** Why it waits, as the replica with agents that last looked found it; undefined: not said yet. */
  reason: string | undefined;
}

export interface HeldLease {
  run: StepRun;
  /** The replica holding the lease; null: none recorded (a single hub's, or before a takeover). */
  holder: string | null;
}

/**
 * Dispatch shared by hub replicas on one PostgreSQL (hub/dispatch/shared-queue.ts): the queue, which
 * replica holds each lease, and aborts waiting for that replica. A single hub does not use it.
 */
export interface ReplicaDispatchStore {
  /**
   * Marks a pending step run as waiting for an agent, on whichever replica its agent is connected to;
   * `reason`: why no agent of this replica took it (undefined: this replica has none to say).
   */
  queue(stepRunId: number, preferAgent: string | undefined, at: number, reason?: string): Promise<void>;
  /** Pending step runs waiting for an agent, oldest first. */
  queued(): Promise<QueuedStepRun[]>;
  /** Records why a queued step run waits (every replica's /queue and waiting reason read it). */
  waiting(stepRunId: number, reason: string): Promise<void>;
  /** Why a queued step run waits; undefined: it is not queued, or no replica has said yet. */
  waitingReason(stepRunId: number): Promise<string | undefined>;
  /**
   * Claims a queued step run for a lease `holder` hands out: the row is locked (SKIP LOCKED, so
   * replicas never wait on each other) and must still be pending under no lease. False otherwise.
   */
  claim(
    stepRunId: number,
    lease: { leaseId: string; agentName: string; pool: string; holder: string },
  ): Promise<boolean>;
  /**
   * Makes `holder` the replica of a live lease (its agent connected there). `fromHolder`: only if that
   * replica held it (a takeover from a dead replica must not win over the agent's new replica).
   */
  hold(stepRunId: number, leaseId: string, holder: string, fromHolder?: string | null): Promise<boolean>;
  /** Every assigned or running step run, with its holder. */
  held(): Promise<HeldLease[]>;
  /**
   * Aborts a step: ended here if it is still pending ('ended'), else the ending is left for the
   * replica holding its lease ('asked'); 'over' when it already ended.
   */
  requestAbort(stepRunId: number, ending: StepEndingRequest, at: number): Promise<'ended' | 'asked' | 'over'>;
  /** Aborts waiting for leases this replica holds. */
  abortsFor(holder: string): Promise<{ stepRunId: number; leaseId: string; ending: StepEndingRequest }[]>;
}

/** A build's event log read from its end (what a build page shows first). */
export interface BuildEventStore {
  /** The newest `limit` events of the build, in ascending seq order. */
  tail(buildId: number, limit: number): Promise<BuildEvent[]>;
  /** The newest `limit` events with seq < beforeSeq, in ascending seq order. */
  before(buildId: number, beforeSeq: number, limit: number): Promise<BuildEvent[]>;
  /** Events with seq > afterSeq other than log output (type `log`), ascending, at most `limit`. */
  withoutLogs(buildId: number, afterSeq: number, limit: number): Promise<BuildEvent[]>;
  /**
   * Where each step's log stands after each of the build's log events with seq > afterSeq (events with a
   * step's log text: `log` and `error` events of a step), ascending, at most `limit`.
   */
  logPositions(buildId: number, afterSeq: number, limit: number): Promise<LogPositionRow[]>;
  /** False for a build from before log positions were kept (its events must be read to index its log). */
  hasLogPositions(buildId: number): Promise<boolean>;
}

/** Where a step's log stands after one of its build's events (hub/log-text/log-position.ts). */
export interface LogPositionRow {
  seq: number;
  step: string;
  /** Newlines so far: the line (from 0) the next text goes on. */
  line: number;
  /** That line already has text. */
  partial: boolean;
  /** The SGR sequence that recreates the colours in effect ('' for none). */
  sgr: string;
}

/** Archiving, ordering and parentage of pipelines (fly's archive-pipeline, order-pipelines). */
export interface PipelineLifecycleStore {
  /** Archives and pauses the pipeline. */
  archive(id: number, at: number): Promise<void>;
  unarchive(id: number): Promise<void>;
  /**
   * The team's pipelines `names` first, in that order; the others after them by id. A name orders its
   * whole instance group.
   */
  order(teamId: number, names: string[]): Promise<void>;
  /**
   * The instances of the group `name` with these instance vars first, in that order (fly's
   * order-instanced-pipelines); the group's other pipelines after them by id. `keys`: pipelineKey of each.
   */
  orderInstances(teamId: number, name: string, keys: string[]): Promise<void>;
  /** The job whose set_pipeline step set the pipeline; null: set by a user. */
  setParent(id: number, parentJobId: number | null): Promise<void>;
  /** Pipelines that set_pipeline steps of this pipeline's jobs set (not the pipeline itself). */
  children(parentPipelineId: number): Promise<{ pipeline: Pipeline; parentJobId: number }[]>;
}

/** Reruns of job builds. */
export interface RerunStore {
  /**
   * A pending rerun of the build: named `N.k` after the original build N (also when asked for a rerun
   * of a rerun), with the job's current plan and the inputs the build fetched. A StoreConflictError
   * when the build does not exist.
   */
  create(buildId: number, at: number): Promise<Build>;
}

/** Generations of task caches per job and step (clear-task-cache). */
export interface TaskCacheStore {
  /** 0 until the step's caches are first cleared. */
  generation(jobId: number, stepName: string): Promise<number>;
  clear(jobId: number, stepName: string): Promise<void>;
}

/**
 * One-off builds (`outpost execute`). They are builds of a hidden job (kind 'one-off') in a hidden
 * pipeline (never listed, never scheduled) of their team, so they share every build mechanism; their
 * inputs are archives the team uploaded, recorded here so a build binds only its own team's uploads.
 */
export interface OneOffStore {
  /** The team's hidden one-off job, created with its pipeline on first use. */
  jobOf(teamId: number, at: number): Promise<Job>;
  /** Records that the team uploaded this archive (idempotent). */
  recordUpload(teamId: number, digest: string, at: number): Promise<void>;
  /** Those of `digests` the team did not upload. */
  notUploaded(teamId: number, digests: string[]): Promise<string[]>;
}

/** What `outpost containers` lists (fly's containers): the steps a team may intercept. */
/** A key the hub signs idtoken var source tokens with (hub/idtoken). */
export interface SigningKeyRecord {
  kid: string;
  kty: 'RSA' | 'EC';
  /** JSON of the JWKs. */
  privateJwk: string;
  publicJwk: string;
  createdAt: number;
}

/** The idtoken signing keys, oldest first. */
export interface SigningKeyStore {
  list(): Promise<SigningKeyRecord[]>;
  add(key: SigningKeyRecord): Promise<void>;
  remove(kid: string): Promise<void>;
}

export interface ContainerStore {
  /**
   * The team's running step runs, its failed ones that ended at or after `failedSince`, and its
   * succeeded ones of a build still running, or that did not succeed and ended at or after
   * `failedSince` (their agents keep them: agent/kept-steps.ts), by id.
   */
  list(teamId: number, failedSince: number): Promise<StepRun[]>;
}

/** The prefix of a check job's name: `check:NAME` for a resource, `check-type:NAME` for a type. */
export const CHECK_JOB_PREFIX = { resource: 'check:', type: 'check-type:' } as const;

/** Whether a job name is a check job's (of a resource or a resource type). */
export function isCheckJob(jobName: string): boolean {
  return Object.values(CHECK_JOB_PREFIX).some((prefix) => jobName.startsWith(prefix));
}

export type ResourceScope = 'resource' | 'type';
export type Version = Record<string, string>;
export interface MetadataField {
  name: string;
  value: string;
}

/** Which history a version belongs to: a new source (config hash) starts a new one. */
export interface VersionKey {
  pipelineId: number;
  scope: ResourceScope;
  name: string;
  configHash: string;
}

export interface ResourceVersion extends VersionKey {
  id: number;
  version: Version;
  metadata: MetadataField[];
  /** Higher is newer. */
  checkOrder: number;
  disabled: boolean;
  createdAt: number;
}

export interface ResourceState {
  pipelineId: number;
  scope: ResourceScope;
  name: string;
  configHash: string;
  checkStatus: 'succeeded' | 'failed' | 'errored' | 'aborted' | null;
  checkError: string | null;
  lastCheckStartedAt: number | null;
  lastCheckEndedAt: number | null;
  /** Pinned through the API (a `version:` in the config pins in the plan instead). */
  pinnedVersion: Version | null;
  pinComment: string | null;
}

/** A version a build fetched (input, by get name) or produced (output, by resource name). */
export interface BuildResource {
  direction: 'input' | 'output';
  name: string;
  resource: string;
  versionId: number;
}

export interface ResourceCacheEntry {
  /** Hash of type, source, params and version. */
  key: string;
  /** The version history the fetched version belongs to (clear-resource-cache finds it by this). */
  configHash?: string;
  digest: string;
  size: number;
  version: Version;
  metadata: MetadataField[];
  createdAt: number;
}

export interface ResourceStore {
  /**
   * Adds the versions a check or put found, in order (the last is the newest); known ones keep their
   * place. Returns each given version's row, in the order given.
   */
  saveVersions(
    key: VersionKey,
    versions: { version: Version; metadata: MetadataField[] }[],
    at: number,
  ): Promise<ResourceVersion[]>;
  /** Newest first. */
  listVersions(
    key: VersionKey,
    opts?: { includeDisabled?: boolean; limit?: number },
  ): Promise<ResourceVersion[]>;
  getVersion(id: number): Promise<ResourceVersion | undefined>;
  findVersion(key: VersionKey, version: Version): Promise<ResourceVersion | undefined>;
  setVersionDisabled(id: number, disabled: boolean): Promise<boolean>;

  getState(pipelineId: number, scope: ResourceScope, name: string): Promise<ResourceState | undefined>;
  listStates(pipelineId: number): Promise<ResourceState[]>;
  /** Creates the state if needed; a new configHash clears the check status (a new history begins). */
  updateState(
    key: VersionKey,
    patch: Partial<
      Pick<
        ResourceState,
        | 'checkStatus'
        | 'checkError'
        | 'lastCheckStartedAt'
        | 'lastCheckEndedAt'
        | 'pinnedVersion'
        | 'pinComment'
      >
    >,
  ): Promise<void>;

  addBuildResources(buildId: number, rows: BuildResource[]): Promise<void>;
  listBuildResources(buildId: number): Promise<(BuildResource & { version: ResourceVersion })[]>;
  /**
   * (version, build) pairs: builds of the job that succeeded and fetched or produced the resource. By
   * version value, whichever history it was recorded in: a custom type's new version starts a new
   * history of the same versions, and what went through a job before still went through it.
   */
  passedVersions(jobId: number, resource: string): Promise<{ version: Version; buildId: number }[]>;
  /** The versions (by value) the job's builds fetched as input `name`. */
  usedVersions(jobId: number, name: string): Promise<Version[]>;

  getCache(key: string): Promise<ResourceCacheEntry | undefined>;
  putCache(entry: ResourceCacheEntry): Promise<void>;
  /**
   * Deletes the cached fetches of the resource's version histories (only of `version` when given);
   * returns how many.
   */
  clearCaches(pipelineId: number, scope: ResourceScope, name: string, version?: Version): Promise<number>;
  /**
   * A resource renamed with `old_name`: its versions, check state and what builds fetched and produced
   * move to the new name (inputs named after it too). False when there is nothing to move or the new
   * name already has versions (it was renamed before).
   */
  renameResource(pipelineId: number, oldName: string, newName: string): Promise<boolean>;
  /** Deletes every version of the resource (and the build inputs and outputs that name them); how many. */
  clearVersions(pipelineId: number, scope: ResourceScope, name: string): Promise<number>;
}

export class StoreConflictError extends Error {
  override readonly name = 'StoreConflictError';
  readonly code = 'STORE_CONFLICT';
}
