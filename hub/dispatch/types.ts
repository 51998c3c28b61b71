// What the dispatcher hands to agents and what it needs to know about them, in domain terms. The
// gateway converts these to and from the wire types; nothing here knows about gRPC.

/** A dispatchable step, resolved by the engine and stored with the step run. */
export interface StepSpec {
  /** '' for steps any pool can run (built-in resource types). */
  platform: string;
  tags: string[];
  /** The team whose pipeline the step belongs to: team-scoped agents only take their team's steps. */
  team: string;
  run: { path: string; args: string[]; dir: string; user: string };
  env: Record<string, string>;
  /** `artifactDigest` is the build artifact bound to the input; absent for an optional input not provided. */
  inputs: { name: string; path: string; optional: boolean; artifactDigest?: string }[];
  outputs: { name: string; path: string }[];
  privileged: boolean;
  /** 0 = none. */
  timeoutMs: number;
  memoryLimitBytes: number;
  cpuShares: number;
  /** Secret values the agent replaces with ((redacted)) in the step's output. */
  redact: string[];
  /** Task `caches` paths, kept by the agent between builds of the same job step. */
  cachePaths: string[];
  /**
   * The container image: a registry reference (a registry-image/docker-image `image_resource`, or an
   * `image:` artifact a registry-image get fetched), or an `image:` artifact holding an image (see
   * ImageRef in agent.proto).
   */
  image?: StepImage;
  /**
   * Env vars the agent fills from a Secret in its cluster (task params that are a whole
   * `((source:secret.key))` of a `kubernetes` var source): the hub holds only these references.
   * Absent in specs stored before it existed.
   */
  secretEnv?: SecretEnvVar[];
  /** Set for resource steps (check, get, put): what the agent runs instead of `run`. */
  resource?: ResourceAction;
}

/** See ImageRef in proto/outpost/v1/agent.proto. */
export interface StepImage {
  /** '' when the image is an artifact. */
  repository: string;
  tag: string;
  digest: string;
  /** Registry credentials from the image resource's source. */
  username?: string;
  password?: string;
  /** The build artifact holding the image (a task's OCI image output, a get of another type). */
  artifactDigest?: string;
}

/** A resource type's check/in/out; see ResourceAction in proto/outpost/v1/agent.proto. */
export interface ResourceAction {
  kind: 'check' | 'get' | 'put';
  /** The base type: a built-in's name (git, mock, time), or an image type's name. */
  type: string;
  /** Runs inside the agent (no container). */
  builtin: boolean;
  source: Record<string, unknown>;
  params: Record<string, unknown>;
  /** check: the newest known version (undefined: none); get: the version to fetch. */
  version: Record<string, string> | undefined;
}

/** An env var read from key `key` of Secret `secret` in the pool's namespace (`kubernetes` var source). */
export interface SecretEnvVar {
  name: string;
  /** The var source's name, for messages. */
  source: string;
  secret: string;
  key: string;
}

export interface StepContext {
  team: string;
  pipeline: string;
  job: string;
  buildName: string;
  buildId: number;
  stepName: string;
  stepRunId: number;
  /** Task caches of the job step are kept per generation; clear-task-cache starts a new one (0 first). */
  cacheGeneration?: number;
}

export interface Assignment {
  leaseId: string;
  pool: string;
  /** The step's id in the build's plan (not sent: the session keeps it for the lease's log events). */
  planId: string;
  context: StepContext;
  spec: StepSpec;
  acceptWithinMs: number;
}

/** What a pool of an agent that does not list its built-in types runs (agents before the list). */
export const LEGACY_BUILTIN_TYPES: readonly string[] = ['git', 'mock', 'time'];

export interface PoolInfo {
  name: string;
  platform: string;
  tags: string[];
  executor: string;
  capacity: number;
  /** The resource types the pool runs inside the agent (git, mock, registry-image, semver, time...). */
  builtinTypes: string[];
  /** A process pool that runs a task's registry image chrooted into its rootfs (absent: it does not). */
  taskImages?: boolean;
  /** Kubernetes pools: what the cluster's admission says of their pods (the agent's dry run at start). */
  admission?: PoolAdmission;
}

export interface PoolAdmission {
  verdict: 'admitted' | 'refused' | 'unknown';
  /** refused: the API server's words; unknown: why it could not be checked. */
  message: string;
}

/** One connected agent session, as the dispatcher sees it. Implemented by the gateway. */
export interface AgentConnection {
  /**
   * The agent's identity at the hub, `CLUSTER/NAME` (agentIdentity in the gateway): every agent of a
   * Helm release is named after its pod (`outpost-agent-0`), so the name alone repeats across clusters.
   * Sessions, leases, pool use and the store's agent rows are keyed by it.
   */
  readonly agentName: string;
  readonly cluster: string;
  readonly pools: readonly PoolInfo[];
  /** Null for a global token; else the only team whose steps this agent may run. */
  readonly teamName: string | null;
  /** True once the agent said it is draining: it takes no new work. */
  readonly draining: boolean;
  /**
   * The messages below leave once every store write made before the call is committed, in the order
   * called (the gateway session's outbox, hub/store/after-commit.ts): a caller may make them right after
   * a write that defers its commit, such as the lease an Assign names.
   */
  assign(assignment: Assignment): void;
  abort(leaseId: string, graceMs: number, reason: string): void;
  revoke(leaseId: string, reason: string): void;
  /** Asks the agent to run a command in a step's directory and open a Tunnel for it (outpost intercept). */
  intercept(order: InterceptOrder): void;
  /** Tells the agent that a build it ran succeeded steps of has ended (see build-end-notices.ts). */
  buildEnded(buildId: number, failed: boolean): void;
  /**
   * Resolves once the hub has handled what the agent sent so far, read or still in the socket (at
   * once if the session ended): a deadline the agent must meet passes only then (lease-machine.ts).
   */
  caughtUp(): Promise<void>;
}

/** A command to run inside the step that holds `leaseId`, its terminal reached through tunnel `tunnelId`. */
export interface InterceptOrder {
  tunnelId: string;
  leaseId: string;
  /** argv; empty: the agent's default shell. */
  command: string[];
  tty: boolean;
  rows: number;
  cols: number;
}

export interface OutputArtifact {
  name: string;
  digest: string;
  size: number;
}

/** How a step run ended, as the engine sees it. */
export interface StepOutcome {
  status: 'succeeded' | 'failed' | 'errored' | 'aborted';
  exitStatus: number | null;
  error: string | null;
  /** The step's outputs the agent stored on the hub (also for failed steps, as in Concourse). */
  outputs: OutputArtifact[];
  /** A resource step's JSON response (check: versions; get/put: version and metadata). */
  resourceResult?: unknown;
}

/** How the hub wants a step it stops to end: aborted by a user, or failed by a timeout. */
export interface StepEnding {
  status: 'aborted' | 'failed';
  error: string;
}
