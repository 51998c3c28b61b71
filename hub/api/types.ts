// The hub's public HTTP API, as JSON types. The CLI imports only this file (and the pure pipeline
// compiler), so everything here is plain data with no runtime dependencies.
//
// Routes (all under /api/v1; all but the webhook require `Authorization: Bearer <API token>`):
//   GET    /info                                            -> InfoResponse
//   GET    /teams/:team/pipelines                           -> PipelineSummary[]
//   GET    /teams/:team/pipelines/:pipeline/config          -> PipelineConfigResponse (404 when none)
//   PUT    /teams/:team/pipelines/:pipeline/config          SetPipelineRequest -> SetPipelineResponse
//                                                          (400 with ApiError{code: 'invalid_pipeline'})
//   PUT    /teams/:team/pipelines/:pipeline/pause|unpause   -> 204
//   PUT    /teams/:team/pipelines/:pipeline/expose|hide     -> 204 (exposed: readable without login)
//   PUT    /teams/:team/pipelines/:pipeline/rename  {name}  -> 204 (409 when the name is taken)
//   DELETE /teams/:team/pipelines/:pipeline                 -> 204 (its builds and versions go with it)
//   GET    /teams/:team/pipelines/:pipeline/jobs            -> JobSummary[]
//   POST   /teams/:team/pipelines/:pipeline/jobs/:job/builds        -> BuildSummary (trigger)
//   GET    /teams/:team/pipelines/:pipeline/jobs/:job/builds        -> BuildSummary[] (?limit=)
//   GET    /teams/:team/pipelines/:pipeline/jobs/:job/builds/:name  -> BuildSummary
//   PUT    /teams/:team/pipelines/:pipeline/jobs/:job/pause|unpause -> 204
//   POST   /teams/:team/pipelines/:pipeline/jobs/:job/builds/:name  -> BuildSummary (a rerun, `N.k`)
//   PUT    /teams/:team/pipelines/:pipeline/jobs/:job/schedule      -> 204
//   DELETE /teams/:team/pipelines/:pipeline/jobs/:job/tasks/:step/cache -> ClearedResponse (?cachePath=)
//   GET    /pipelines                                       -> PipelineSummary[] (every team the caller sees)
//   PUT    /teams/:team/pipelines/:pipeline/archive         -> 204
//   PUT    /teams/:team/pipelines/ordering    [names...]    -> 204
//   PUT    /teams/:team/pipelines/:pipeline/ordering  [instance vars...] -> 204 (order-instanced-pipelines)
//   GET    /builds                                          -> BuildSummary[] (?team=&pipeline=&job=&limit=
//                                                             &since=&until=: start time in Unix ms)
//   POST   /teams/:team/artifacts   (a tar as application/octet-stream) -> UploadedArtifact (member)
//   POST   /teams/:team/builds          CreateOneOffBuildRequest -> BuildSummary (member; a one-off build)
//   GET    /builds/:id/outputs/:output                     -> the output's tar (member of the build's team)
//   POST   /builds/:id/intercept  (InterceptClientFrame lines) -> InterceptServerFrame lines (member)
//   GET    /teams/:team/containers                          -> ContainerSummary[] (viewer)
//   POST   /containers/:id/intercept  (as /builds/:id/intercept: the step run whose id is the handle; member)
//   GET    /builds/:id                                      -> BuildSummary
//   GET    /builds/:id/plan                                 -> BuildStep (the step tree; ids match events' origin.id)
//   PUT    /builds/:id/abort                                -> 204 (409 'build_finished' once it has ended)
//   GET    /builds/:id/events                               -> text/event-stream (see below)
//   GET    /builds/:id/events/page    -> BuildEventPage (?after=SEQ&limit=, ?tail=true&limit= for the newest,
//                                        ?step=ID&line=N from line N of a step, ?log=false without log output;
//                                        &bytes=: a smaller page budget)
//   GET    /builds/:id/log                                  -> text/plain: the raw log (?step=ID: one step's)
//   GET    /teams/:team/pipelines/:pipeline/resources       -> ResourceSummary[]
//   POST   .../resources/:resource/check                    CheckResourceRequest? -> BuildSummary
//   POST   .../resources/:resource/check/webhook?webhook_token=TOKEN -> BuildSummary (no API token)
//   POST   .../resource-types/:type/check                   CheckResourceRequest? -> BuildSummary
//   GET    .../resources/:resource/versions                 -> ResourceVersionSummary[] (?limit=)
//   PUT    .../resources/:resource/versions/:id/enable|disable      -> 204
//   PUT    .../resources/:resource/versions/:id/pin         PinRequest? -> 204
//   PUT    .../resources/:resource/unpin                    -> 204
//   DELETE .../resources/:resource/cache       {version?}   -> ClearedResponse
//   DELETE .../resources/:resource/versions                 -> ClearedResponse
//   DELETE .../resource-types/:type/versions                -> ClearedResponse
//   GET    /agents                                          -> AgentSummary[]
//   GET    /queue                                           -> QueuedStep[] (steps waiting for an agent)
//   GET    /agent-tokens                                    -> AgentTokenSummary[]
//   POST   /agent-tokens            CreateAgentTokenRequest -> CreatedAgentToken (the secret, shown once)
//   DELETE /agent-tokens/:id                                -> 204
//   POST   /auth/token                     LoginRequest -> LoginResponse (public, rate-limited)
//   POST   /auth/renew                                      -> LoginResponse (a login token's successor)
//   GET    /user                                            -> UserInfo
//   GET    /teams                                           -> TeamSummary[] (the teams the caller may see)
//   GET    /teams/:team                                     -> TeamSummary
//   PUT    /teams/:team                      SetTeamRequest -> SetTeamResponse (admins)
//   PUT    /teams/:team/rename                     {name}   -> 204
//   DELETE /teams/:team                                     -> 204
//   GET    /users                                           -> UserSummary[] (admins)
//   PUT    /users/:user                          {password} -> 201 created / 204 changed (admins)
//   GET    /teams/:team/api-tokens                          -> ApiTokenSummary[]
//   POST   /teams/:team/api-tokens    CreateApiTokenRequest -> CreatedApiToken (the secret, shown once)
//   DELETE /teams/:team/api-tokens/:id                      -> 204
//   POST   /admin-token/rotate                              -> RotatedAdminToken (admins; old token revoked)
//   GET    /audit?team=&user=&since=&limit=                 -> AuditEntrySummary[] (admins; owners: their teams)
//   GET    /auth/oidc/login?team=&redirect=&cli_redirect=   -> 302 to the OIDC provider (public)
//   GET    /auth/oidc/callback                              -> 302 with the login token (public)
// Unauthenticated: GET /healthz, GET /readyz, GET /metrics, and the web UI: GET / and any other GET path
// outside /api/ (the single-page app's index.html; its hashed files under /assets/).
// Every route needs a role (hub/api/route.ts; docs/security.md): 401 without a login, 404 for a team the
// caller has no role in (as for one that does not exist), 403 for a role too weak.
//
// Input: `:id` is decimal digits only (`0x1`, `1e0`, `-1`, `01` are 400s, never build 1); `limit` is a
// whole number from 1 (more than 1000 gives 1000); a repeated query key, a body field of the wrong type or
// an unknown body field is a 400 whose message names the field. Errors are ApiError JSON: 400
// 'bad_request', 401 'unauthorized' (or 'agent_token': an agent token was sent; 'token_expired': the
// token is right but expired, said only to a caller who sent its real secret), 404 'not_found',
// 409 'conflict' / 'build_finished', 413 'too_large', 503 'shutting_down' (a draining hub refuses writes).
//
// Build events are server-sent events in Concourse's envelope: every event is
//   id: <seq>\nevent: event\ndata: {"event": "<type>", "version": "<v>", "data": {...}}\n\n
// replayed from `Last-Event-ID` (or from the start), then live; after the build's final `status` event
// the stream sends `event: end` and closes.

export const API_PREFIX = '/api/v1';

export interface ApiError {
  error: { code: string; message: string; details?: PipelineDiagnostic[] };
}

export interface InfoResponse {
  version: string;
  /** The name of the credential the caller sent; '' when none (the route needs no login). */
  tokenName: string;
  /** How one logs in: with a local user's password, and/or through an OpenID Connect provider. */
  auth: { local: boolean; oidc: { name: string } | null };
}

export interface PipelineDiagnostic {
  file: string;
  line: number;
  col: number;
  severity: 'error' | 'warning';
  message: string;
}

/** A pipeline instance's instance vars (JSON object; Concourse's `instance_vars`). */
export type InstanceVars = Record<string, unknown>;

export interface PipelineSummary {
  id: number;
  /** Its name; the instances of a group share it (Concourse's instance groups). */
  name: string;
  /** Only for an instance: its instance vars. Address it with `?vars=<JSON of these>`. */
  instance_vars?: InstanceVars;
  team: string;
  paused: boolean;
  /** Exposed: readable without login (`expose-pipeline`); build logs only of jobs with `public: true`. */
  public: boolean;
  /** Archived (archive-pipeline): paused until set-pipeline sets it again. */
  archived: boolean;
  configVersion: number;
  /** Unix milliseconds of the last saved config, pause or rename. */
  updatedAt: number;
}

/** What clear-task-cache, clear-resource-cache and clear-versions removed. */
export interface ClearedResponse {
  removed: number;
}

export interface PipelineConfigResponse {
  source: string;
  version: number;
}

export interface SetPipelineRequest {
  source: string;
  /** The file name errors are reported against. */
  file: string;
  /** When set, the save fails with 409 if the stored version differs (someone else changed it). */
  expectedVersion?: number;
}

export interface SetPipelineResponse {
  created: boolean;
  version: number;
  warnings: PipelineDiagnostic[];
}

export type BuildStatus = 'pending' | 'started' | 'succeeded' | 'failed' | 'errored' | 'aborted';

export interface BuildSummary {
  id: number;
  team: string;
  /** '' for a one-off build. */
  pipeline: string;
  /** When the build's pipeline is an instance: its instance vars (as Concourse's builds show them). */
  pipeline_instance_vars?: InstanceVars;
  /** '' for a one-off build. */
  job: string;
  /** Created by `outpost execute`: it belongs to its team only, not to a pipeline or job. */
  oneOff?: boolean;
  name: string;
  status: BuildStatus;
  createdAt: number;
  startedAt: number | null;
  endedAt: number | null;
  /** Why a pending (or started but waiting) build is not progressing, when it is not. */
  waitingReason: string | null;
}

/** An input archive a team uploaded for its one-off builds. */
export interface UploadedArtifact {
  /** "sha256:<hex>": what a CreateOneOffBuildRequest's inputs name. */
  digest: string;
  size: number;
}

/** `outpost execute`: a one-off build running one task. */
export interface CreateOneOffBuildRequest {
  /** The task config's YAML, as in the file. */
  config: string;
  /** The file's name, for messages. */
  configPath?: string;
  /** `((vars))` for the config (-v, -y, -l). */
  vars?: Record<string, unknown>;
  /** Uploaded archives (UploadedArtifact.digest of this team) by task input name. */
  inputs?: { name: string; digest: string }[];
  /** Take the other inputs from the latest build of this job that fetched its inputs (-j). */
  inputsFrom?: { pipeline: string; instance_vars?: InstanceVars; job: string };
  /** task input name -> that job's input name (-m). */
  inputMappings?: Record<string, string>;
  /** That job's input (a resource) used as the task's image (--image). */
  image?: string;
  privileged?: boolean;
  tags?: string[];
  /** Appended to the task's run.args. */
  args?: string[];
}

/**
 * POST /builds/:id/intercept (?step=&type=&attempt=): the request body is these frames, one JSON per
 * line, `start` first; data is base64.
 */
export interface InterceptClientFrame {
  /** argv (empty: the agent's default shell); `tty`: run under a pseudo-terminal of that size. */
  start?: { command?: string[]; tty?: boolean; rows?: number; cols?: number };
  stdin?: string;
  eof?: true;
  resize?: { rows: number; cols: number };
}

/** The response's frames: output, then `exit` (the command's status) or `error` (it never ran). */
export interface InterceptServerFrame {
  stdout?: string;
  stderr?: string;
  exit?: number;
  error?: string;
}

/**
 * A step `outpost containers` lists (fly's containers): one running, or failed and maybe still kept by
 * its agent for intercept. Empty strings: not applicable (a check has no job, a one-off no pipeline).
 */
export interface ContainerSummary {
  /** What `intercept --handle` takes: the step run's id. */
  handle: string;
  agent: string;
  team: string;
  pipeline: string;
  pipeline_instance_vars?: InstanceVars;
  job: string;
  buildId: number;
  buildName: string;
  type: 'task' | 'get' | 'put' | 'check';
  /** The step's name; a check's: its resource's. */
  name: string;
  /** `retry`'s attempt (nested ones joined with '.'); '' outside a retry. */
  attempt: string;
  /** `succeeded`: kept by its agent until its build ends (longer if the build did not succeed). */
  state: 'running' | 'failed' | 'succeeded';
}

/** A job's `get` step: where its versions come from, and which jobs they must have passed. */
export interface JobInput {
  /** The artifact name (`get: NAME`). */
  name: string;
  resource: string;
  passed: string[];
  trigger: boolean;
}

/** One node of a build's step tree (GET /builds/:id/plan). */
export interface BuildStep {
  /** The plan node id: the `origin.id` of the step's events. */
  id: string;
  /** task, get, put, check, set_pipeline, load_var, do, in_parallel, try, timeout, retry, across, or a
   *  hook (on_success, on_failure, on_error, on_abort, ensure: children are the step, then the hook). */
  kind: string;
  /** The step's name; null for structure (do, in_parallel, ...). */
  name: string | null;
  children: BuildStep[];
}

export interface JobSummary {
  name: string;
  pipeline: string;
  team: string;
  paused: boolean;
  latestBuild: BuildSummary | null;
  /** Every get step of the plan, once per name: the edges of the pipeline graph. */
  inputs: JobInput[];
  /** The pipeline's `groups` the job is in, in the config's order (the pipeline page's tabs). */
  groups: string[];
}

export interface AgentPoolSummary {
  name: string;
  platform: string;
  tags: string[];
  executor: string;
  capacity: number;
  inUse: number;
  /**
   * Kubernetes pools: whether the cluster admits their step pods (the agent's dry-run create at start),
   * with the API server's refusal or why it could not be checked; null for other pools.
   */
  admission: { verdict: 'admitted' | 'refused' | 'unknown'; message: string } | null;
}

export interface AgentSummary {
  name: string;
  cluster: string;
  version: string;
  state: 'connected' | 'disconnected' | 'draining';
  pools: AgentPoolSummary[];
  lastHeartbeatAt: number | null;
}

/** A step waiting for an agent (GET /queue), oldest first. */
export interface QueuedStep {
  buildId: number;
  team: string;
  pipeline: string;
  job: string;
  buildName: string;
  step: string;
  /** The platform the step needs ('' for any) and the tags a pool must have. */
  platform: string;
  tags: string[];
  /** Unix ms since it has waited. */
  since: number;
  /** Why no pool has taken it; null while it is being placed. */
  reason: string | null;
}

/**
 * What an agent with the token may claim in its Hello; an absent field is unbounded. The hub refuses
 * a Hello that claims more (PERMISSION_DENIED, naming the field).
 */
export interface AgentTokenBounds {
  /** The one agent identity, CLUSTER/NAME. */
  agent?: string;
  /** Or identities starting with this (CLUSTER/ and a StatefulSet's `RELEASE-`). */
  agentPrefix?: string;
  pools?: string[];
  platforms?: string[];
  tags?: string[];
  /** The most steps at once, summed over its pools. */
  maxCapacity?: number;
}

export interface CreateAgentTokenRequest extends AgentTokenBounds {
  name: string;
  /** Scope the token to one team; omitted for a global token. */
  team?: string;
  /** Seconds until it expires (at least 60); omitted with `expiresAt` too: never. */
  expiresIn?: number;
  /** When it expires, Unix milliseconds, in the future; not with `expiresIn`. */
  expiresAt?: number;
}

export interface AgentTokenSummary {
  id: number;
  name: string;
  team: string | null;
  /** Null: the token's agent may claim any name, pools and capacity (tokens created without bounds). */
  bounds: AgentTokenBounds | null;
  createdAt: number;
  /** Null: it never expires. An expired token is refused like a revoked one, saying it expired. */
  expiresAt: number | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
}

export interface CreatedAgentToken extends AgentTokenSummary {
  /** The secret. It is not stored and cannot be shown again. */
  token: string;
}

// Build event payloads (the `data` of the envelope), as Concourse's atc/event package has them: every
// envelope's `event` and `version` is one of Concourse's (docs/protocol.md lists them), so fly reads the
// stream. Fields beyond Concourse's (`pool`, `reason`, `scope`) are additions a Concourse reader ignores.
export interface Origin {
  /** The plan node id; absent on a log event of the build itself (why it is pending). */
  id?: string;
  source?: 'stdout' | 'stderr';
}

export interface BuildEventEnvelope {
  event: string;
  version: string;
  data: unknown;
}

/**
 * GET /builds/:id/events/page: stored events in seq order, as the event stream sends them, so a client
 * can show any part of a long build (its newest events first, or from a given line of a step) and follow
 * the stream from the last event it read. A page stops at `limit` events or `bytes` (at most 4 MiB) of
 * event data, whichever comes first (at least one event). Which page:
 * - `after=SEQ` (default 0): the events after SEQ;
 * - `tail=true`: the newest events;
 * - `step=ID&line=N`: from the event in which line N (from 1) of step ID's log begins (after the log's
 *   end: from its last event);
 * - `log=false` (with `after`): the events other than `log` ones (what a page needs for the steps' states).
 */
export interface BuildEventPage {
  events: (BuildEventEnvelope & { seq: number })[];
  /**
   * Where each step's log stands just before the page's first event (absent with `log=false`), for every
   * step with log text before or in the page, by step id (`origin.id`). A step's log text is its `log`
   * events' payloads and, for an `error` event, its message and a newline.
   */
  start?: Record<string, LogStart>;
}

/** A position in a step's log, and the colours in effect there. */
export interface LogStart {
  /** Newlines before it: the line (from 0) the next text goes on. */
  line: number;
  /** That line already has text (the next text continues it). */
  partial: boolean;
  /** The ANSI SGR sequence that sets the colours and styles in effect ('' for none): a page shown from
   *  here starts with it, as a terminal would have them from the lines above. */
  sgr: string;
}

export interface StatusEvent {
  status: BuildStatus;
  time: number;
}

export interface LogEvent {
  origin: Origin;
  payload: string;
  time: number;
}

/** The task config of initialize-task and start-task (Concourse's event.TaskConfig). */
export interface TaskEventConfig {
  platform: string;
  image: string;
  run: { path: string; args: string[]; dir: string };
  inputs: { name: string; path: string }[];
}

export interface InitializeTaskEvent {
  origin: Origin;
  time: number;
  config: TaskEventConfig;
}

export interface StartTaskEvent {
  origin: Origin;
  time: number;
  config: TaskEventConfig;
}

/** initialize, start, initialize-get/-put, start-get/-put: a step began (its origin). */
export interface StepEvent {
  origin: Origin;
  time: number;
}

/** finish: a step that is not a task, get or put (a check, load_var, set_pipeline) ended. */
export interface FinishEvent {
  origin: Origin;
  time: number;
  succeeded: boolean;
}

export interface FinishTaskEvent {
  origin: Origin;
  time: number;
  exit_status: number;
}

export interface ErrorEvent {
  origin: Origin;
  message: string;
  time: number;
}

export interface SelectedWorkerEvent {
  origin: Origin;
  selected_worker: string;
  pool: string;
  time: number;
}

export interface WaitingForWorkerEvent {
  origin: Origin;
  reason: string;
  time: number;
}

export interface InitializeCheckEvent {
  origin: Origin;
  /** The resource's or resource type's name. */
  name: string;
  scope: 'resource' | 'type';
  time: number;
}

/** finish-get / finish-put: the version fetched or produced. */
export interface FinishResourceEvent {
  origin: Origin;
  exit_status: number;
  version: Record<string, string>;
  metadata: { name: string; value: string }[];
  time: number;
}

export interface ResourceSummary {
  name: string;
  type: string;
  /** The last check's outcome; null before the first check of the current source. */
  checkStatus: 'succeeded' | 'failed' | 'errored' | 'aborted' | null;
  checkError: string | null;
  lastCheckedAt: number | null;
  /** Pinned by the config (`version:`) or through the API. */
  pinnedVersion: Record<string, string> | null;
  pinComment: string | null;
  /** Whether POST .../check/webhook accepts calls (the resource has a webhook_token). */
  webhook: boolean;
}

export interface ResourceVersionSummary {
  id: number;
  version: Record<string, string>;
  metadata: { name: string; value: string }[];
  enabled: boolean;
}

/** POST /teams/:team/pipelines/:pipeline/resources/:resource/check */
export interface CheckResourceRequest {
  /** Check from this version (the resource decides what that means; mock returns it). */
  from?: Record<string, string>;
  /** Check only this resource (or type), not the custom types it runs on (fly's --shallow). */
  shallow?: boolean;
}

/** PUT /teams/:team/pipelines/:pipeline/resources/:resource/versions/:id/pin */
export interface PinRequest {
  comment?: string;
}

// Teams, people and tokens (docs/security.md).

export type RoleName = 'owner' | 'member' | 'pipeline-operator' | 'viewer';

export interface TeamRole {
  team: string;
  role: RoleName;
}

/** POST /auth/token: a local user's login for a short-lived token. */
export interface LoginRequest {
  username: string;
  password: string;
  /**
   * The team the CLI targets; the login fails when the user has no role in it. Left out (the web UI),
   * `main` if the user has a role there, else the first of their teams by name.
   */
  team?: string;
}

export interface LoginResponse {
  token: string;
  expiresAt: number;
  user: string;
  teams: TeamRole[];
}

/** GET /user: who the caller is. */
export interface UserInfo {
  name: string;
  admin: boolean;
  teams: TeamRole[];
  /** When the caller's token stops working (null: never). */
  expiresAt: number | null;
}

export interface TeamMember {
  user: string;
  role: RoleName;
}

/** POST /admin-token/rotate: the new admin token (shown once); the old ones no longer work. */
export interface RotatedAdminToken {
  token: string;
  /** Where the hub wrote it (DATA_DIR/admin-token); null for a hub without a data directory. */
  file: string | null;
  /** How many admin tokens were revoked. */
  revoked: number;
}

/** GET /audit: one state-changing request or login. */
export interface AuditEntrySummary {
  id: number;
  /** Unix milliseconds. */
  at: number;
  /** A user's name (`oidc:` before an OIDC user's), `token:<name>` for an API token, or `anonymous`. */
  user: string;
  team: string | null;
  /** What was asked: `login`, `trigger-job`, `set-pipeline`, `expose-pipeline`, ... */
  action: string;
  /** The request's path. */
  target: string;
  /** The caller's address. */
  source: string;
  /** The answer's HTTP status: below 400 done, else refused or failed. */
  status: number;
}

/** A role a team gives everyone in an OIDC group, or one OIDC user (by the provider's user name). */
export interface OidcTeamRole {
  kind: 'group' | 'user';
  name: string;
  role: RoleName;
}

export interface TeamSummary {
  name: string;
  /** Present for callers who may see the team's members (its owners and admins). */
  members?: TeamMember[];
  /** With `members`: the roles the team gives OIDC groups and users. */
  oidc?: OidcTeamRole[];
}

/**
 * PUT /teams/:team: replaces the team's members and OIDC roles (creates the team when it does not
 * exist). Without `oidc` the team gives no OIDC roles.
 */
export interface SetTeamRequest {
  members: TeamMember[];
  oidc?: OidcTeamRole[];
}

export interface SetTeamResponse {
  created: boolean;
}

export interface UserSummary {
  name: string;
  createdAt: number;
  teams: TeamRole[];
}

export interface ApiTokenSummary {
  id: number;
  name: string;
  team: string;
  role: RoleName;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
}

export interface CreateApiTokenRequest {
  name: string;
  role: RoleName;
  /** Seconds until it expires; omitted: never. */
  expiresIn?: number;
}

/** The secret appears here once and is never shown again. */
export interface CreatedApiToken extends ApiTokenSummary {
  token: string;
}
