// The contract every executor (process, kubernetes) implements. The agent's session code sees only
// this file; each executor folder sees only this file of the agent.
//
// Call order for one step: start() -> (logs() consumed, wait() awaited, abort() any time) ; the
// executor owns everything it created for the step until wait() settles and cleanup() is called.
// - start() rejects only for agent-side bugs; a step that cannot run (missing command, bad working
//   dir) starts and then ends with status 'errored' and an `error` in words.
// - logs() is called once; it yields chunks in the order the step produced them and ends when the
//   step's output is closed. It applies backpressure: a slow consumer pauses the step's output.
// - wait() may be awaited many times; it settles after logs() has produced everything.
// - abort() is idempotent and may race with the step ending on its own; after it the step ends with
//   status 'aborted' (unless it had already ended).
// - cleanup() removes the step's work directory and anything else it holds; idempotent.
// - Optional, for executors whose steps outlive the agent process (kubernetes): listHeld() names the
//   leases this agent's steps still hold after a restart; reattach(leaseId) returns such a step, whose
//   logs() replays the step's output from its last stored checkpoint (RunningStep.resumedLog, else from
//   its beginning) in the same pieces as the first run, so the runner's log sequence numbers line up
//   with what the hub already stored (the hub deduplicates by sequence); sweep(keep) deletes everything
//   of leases not in `keep`.

import type { PackedArchive } from '../artifacts/archive.js';

export type ExecStatus = 'succeeded' | 'failed' | 'errored' | 'aborted';

export interface ExecStep {
  /** Unique per assignment; names the step's work directory. */
  leaseId: string;
  run: { path: string; args: string[]; dir: string; user: string };
  env: Record<string, string>;
  /**
   * Env vars the step reads from key `key` of Secret `secret` in the executor's cluster (a pipeline var
   * source of type `kubernetes` named `source`); the value never passes through the agent or the hub.
   * Executors without a cluster end the step 'errored' (see refuseSecretEnv). Absent: none.
   */
  secretEnv?: SecretEnvVar[];
  /** `archive`: a local tar of the input's content, to be placed at `path` before the step starts. */
  inputs: { name: string; path: string; archive: string | undefined }[];
  outputs: { name: string; path: string }[];
  /** 0 = none. The executor ends the step as 'failed' with error "timeout exceeded" when it elapses. */
  timeoutMs: number;
  privileged: boolean;
  /** Where the step sits (labels, annotations); absent in old callers. */
  context?: StepContext;
  /** The task's image; executors without images ignore it. Absent: the pool's default. */
  image?: StepImage;
  /**
   * The image's root filesystem on this host, already fetched (agent/images), for executors that run
   * host processes: they run the step chrooted into a copy of it, or end it 'errored' saying why they
   * cannot. Absent: the host's own filesystem.
   */
  rootfs?: string;
  /** From container_limits; 0 or absent = unset. */
  memoryLimitBytes?: number;
  cpuShares?: number;
  /**
   * Task `caches`: `path` inside the working directory, `dir` the agent's directory that keeps it
   * between builds of the same job step. Executors that cannot keep caches ignore them.
   */
  caches?: { path: string; dir: string }[];
  /**
   * The values the runner redacts from this step's log. Executors whose steps outlive the agent keep
   * them (never in plain sight) and hand them back on the reattached step.
   */
  redact?: string[];
  /**
   * Set for a resource step (check/get/put): what to run instead of `run`, for executors that run
   * resources (agent/resources). `request` is the JSON the resource reads on stdin. Others ignore it.
   */
  resource?: ExecResource;
}

export interface ExecResource {
  kind: 'check' | 'get' | 'put';
  /** The base type: a built-in's name (git, mock, time) or the image's type. */
  type: string;
  builtin: boolean;
  request: string;
  /**
   * Set when the resource runs from an image as an ordinary step (agent/resources/image-executor.ts):
   * the output its response lands in. Executors whose steps outlive the agent keep `heldResource()` of
   * it with the step and hand it back on the reattached step, so the runner reads the response again.
   */
  responseOutput?: string;
}

/**
 * What an executor keeps of a resource step across an agent restart: never the request, which holds
 * the resource's source (credentials).
 */
export interface HeldResource {
  kind: ExecResource['kind'];
  type: string;
  responseOutput: string;
}

/** The part of a resource step an executor persists, or undefined for steps that are not resources. */
export function heldResource(step: ExecStep): HeldResource | undefined {
  const r = step.resource;
  if (!r?.responseOutput) return undefined;
  return { kind: r.kind, type: r.type, responseOutput: r.responseOutput };
}

/** Reads a persisted HeldResource back; undefined when absent or not one. */
export function parseHeldResource(value: unknown): HeldResource | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (v.kind !== 'check' && v.kind !== 'get' && v.kind !== 'put') return undefined;
  if (typeof v.type !== 'string' || typeof v.responseOutput !== 'string' || v.responseOutput === '')
    return undefined;
  return { kind: v.kind, type: v.type, responseOutput: v.responseOutput };
}

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

/**
 * The step's image: a registry reference (`repository` with a `digest`, else a `tag`), or (`artifact`,
 * `repository` '') a build artifact that holds an image, which executors that run images push to a
 * registry of theirs first.
 */
export interface StepImage {
  repository: string;
  tag?: string;
  digest?: string;
  /** Registry credentials from the resource's source. */
  username?: string;
  password?: string;
  /** `archive`: a local tar of the artifact, fetched by the runner for executors with `runsImages`. */
  artifact?: { digest: string; archive: string | undefined };
}

export interface LogData {
  stream: 'stdout' | 'stderr';
  data: Buffer;
  at: number;
  /**
   * Executors whose steps outlive the agent: where the step's log stands after this piece, opaque to
   * the runner. Once the hub stored the log up to here, the runner hands it back (logStored()).
   */
  position?: string;
  /**
   * Output before this piece may be missing (a rotated log was not read in time): the piece says so
   * in words, and the runner numbers it after everything the hub already stored.
   */
  gap?: boolean;
}

/** A point in a step's log the hub has stored: the last chunk's sequence number and the source position. */
export interface LogCheckpoint {
  seq: number;
  position: string;
}

export interface ExecResult {
  status: ExecStatus;
  /** The process's exit code; 128 + signal number when killed by a signal; -1 when it never ran. */
  exitStatus: number;
  /** Why the step errored, failed for a reason other than its exit code, or was aborted. */
  error: string | undefined;
  /** A succeeded resource step's JSON response, validated (see agent/resources/protocol.ts). */
  resourceResult?: string;
}

export interface RunningStep {
  readonly leaseId: string;
  logs(): AsyncIterable<LogData>;
  wait(): Promise<ExecResult>;
  abort(graceMs: number, reason: string): Promise<void>;
  /**
   * After wait() settled: writes each declared output as a tar into `dir`, at most `maxBytes` each.
   * Rejects (with a message naming the output) when one is missing or too large.
   */
  collectOutputs(dir: string, maxBytes: number): Promise<{ name: string; archive: PackedArchive }[]>;
  cleanup(): Promise<void>;
  /** On a reattached step: the redaction list the step was started with. */
  readonly redact?: readonly string[];
  /** On a reattached step that was started as a resource from an image: what it runs (heldResource). */
  readonly resumedResource?: HeldResource;
  /**
   * Executors whose steps outlive the agent: the hub has stored the log up to `checkpoint` (chunks
   * 1..seq hold everything up to its position, nothing held back). The step keeps the latest with
   * itself, so that a reattached step's logs() can start after it.
   */
  logStored?(checkpoint: LogCheckpoint): void;
  /**
   * On a reattached step: the checkpoint its logs() starts after (its first piece is the first after
   * `position`, and the runner numbers chunks from seq + 1). Absent: logs() starts from the beginning.
   */
  readonly resumedLog?: LogCheckpoint;
  /**
   * When the step's process was spawned and when it ended (Unix ms, the executor's clock), for the
   * agent's step timeline (agent/step-timeline.ts). Absent where the executor does not know.
   */
  readonly spawnedAt?: number;
  readonly exitedAt?: number;
  /**
   * Between start() and spawnedAt, where the executor hands the step to a supervisor that spawns it:
   * when it sent the step (its files ready) and when the supervisor took it (Unix ms). Absent where
   * the executor does not know.
   */
  readonly handedOverAt?: number;
  readonly receivedAt?: number;
  /**
   * Where a command intercepting this step runs (`outpost intercept`): its working directory and
   * environment on this host. Absent: the executor cannot run commands inside its steps.
   */
  readonly shell?: StepShell;
  /**
   * Executors that run commands inside their steps themselves (kubernetes: exec into the pod): starts
   * `command` there, its output going to `output` from the first byte. Rejects, with a message a user
   * can act on, when it cannot (the step's container is not running). Absent: see `shell`.
   */
  intercept?(command: InterceptCommand, output: TerminalOutput): Promise<StepTerminal>;
}

/** A command `outpost intercept` runs inside a step. */
export interface InterceptCommand {
  /** argv; empty: a shell (bash where the step has it, else sh). */
  argv: string[];
  /** Under a pseudo-terminal of `rows` x `cols` (the user's stdin is a terminal). */
  tty: boolean;
  rows: number;
  cols: number;
}

/** Where an intercepting command's output goes; with a tty everything is 'stdout'. */
export type TerminalOutput = (stream: 'stdout' | 'stderr', data: Buffer) => void;

/** The intercepting command, running: its input, its terminal's size, its end. */
export interface StepTerminal {
  write(data: Buffer): void;
  closeStdin(): void;
  /** The user's terminal changed size (ignored without a tty). */
  resize(rows: number, cols: number): void;
  /** Ends the command: the user went away. */
  kill(): void;
  /** Its exit status (128 + signal when killed by one), or -1 and why it did not run or was lost. */
  readonly exited: Promise<{ exitStatus: number; error?: string }>;
}

/** Where and as whom a command inside a step runs on this host (see RunningStep.shell). */
export interface StepShell {
  cwd: string;
  env: Record<string, string>;
  /** The step's user when its pool has `run_as`; unset: the agent's own. */
  uid?: number;
  gid?: number;
}

/** What a cluster's admission says of an executor's step pods (see KubernetesExecutor.admission). */
export interface Admission {
  verdict: 'admitted' | 'refused' | 'unknown';
  /** refused: the API server's words; unknown: why it could not be checked; admitted: empty. */
  message: string;
}

export interface Executor {
  readonly kind: string;
  /** Executors whose steps meet an admission check (kubernetes): its result, checked at start. */
  readonly admission?: Promise<Admission>;
  /** Runs steps in their image: the runner fetches an image artifact (StepImage.artifact) for start(). */
  readonly runsImages?: boolean;
  start(step: ExecStep): Promise<RunningStep>;
  /** Lease ids of steps this agent started that still exist (after an agent restart). */
  listHeld?(): Promise<string[]>;
  /** Resumes a step listHeld() named; undefined when it is gone. */
  reattach?(leaseId: string): Promise<RunningStep | undefined>;
  /** Deletes whatever belongs to leases not in `keep` (orphans of crashed agents, dropped leases). */
  sweep?(keep: Set<string>): Promise<void>;
}
