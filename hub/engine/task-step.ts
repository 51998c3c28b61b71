// The `task` leaf: resolves the task's config (inline or from a file in an artifact) and its vars,
// binds its inputs to the build's artifacts, and hands it to the dispatcher as a step run.

import { metadataEnv } from '../../common/image-metadata.js';
import type { ArtifactStore } from '../artifacts/store.js';
import type { OutputArtifact, StepOutcome, StepSpec } from '../dispatch/types.js';
import type { BuildEventType } from '../events/build-events.js';
import { compileTaskConfig } from '../pipeline/compile.js';
import { formatDiagnostic } from '../pipeline/diagnostics.js';
import type { ImageResourceConfig, TaskConfig, TaskPlan } from '../pipeline/plan.js';
import { undefinedVarsMessage } from '../pipeline/vars.js';
import { parseTaskConfig } from '../pipeline/task-config.js';
import type { StepRun } from '../store/store.js';
import { taskEventConfig } from './task-event-config.js';
import { type BuildRun, type LeafRunner, type Result } from './build-run.js';
import { splitClusterParams } from './cluster-secrets.js';
import {
  awaitDispatched,
  stepContext,
  submitDispatched,
  TERMINAL_STEP_STATUSES,
  type DispatchDeps,
  type EndEvents,
  type Ended,
  type StoredDispatchSpec,
} from './dispatched-step.js';
import { artifactImage, REGISTRY_TYPES } from './image-ref.js';
import type { ArtifactBinding, Scope } from './scope.js';
import { taskStepSpec } from './task-spec.js';

/** What a task step run keeps in the store: what to dispatch, and where it belongs. */
export interface StoredTaskSpec extends StoredDispatchSpec {
  /** task output name -> build artifact name. */
  outputMapping: Record<string, string>;
}

/** What a finished task step run leaves: its outputs. */
export interface TaskResult {
  outputs: { name: string; digest: string; size: number }[];
}

const MAX_TASK_FILE_BYTES = 1024 * 1024;

export interface TaskStepDeps extends DispatchDeps {
  artifacts: ArtifactStore;
  /** Checks and fetches a task's image_resource through its resource type (resource-step.ts). */
  image: (
    build: BuildRun,
    scope: Scope,
    taskId: string,
    image: ImageResourceConfig,
  ) => Promise<OutputArtifact | string>;
}

const MAX_METADATA_BYTES = 64 * 1024;

export class TaskStep implements LeafRunner<TaskPlan> {
  constructor(private readonly deps: TaskStepDeps) {}

  async run(node: TaskPlan, scope: Scope, build: BuildRun): Promise<Result> {
    const id = scope.id(node.id);
    const run = build.steps.get(id);
    if (run && TERMINAL_STEP_STATUSES.has(run.status)) {
      // Replayed: its events are in the log already; only its outputs matter to later steps.
      scope.register(outputsOf(run), (run.spec as StoredTaskSpec).outputMapping, run.agentName);
      return run.status as Result;
    }
    if (!run) {
      if (scope.signal.aborted) return 'aborted';
      const prepared = await this.prepare(node, scope, build);
      if (typeof prepared === 'string') return build.fail(node, scope, prepared);
      const stored: StoredTaskSpec = {
        spec: prepared.spec,
        context: {
          ...stepContext(build, node.name),
          // Caches live per generation on agents: a cleared cache (clear-task-cache) starts empty.
          ...(prepared.spec.cachePaths.length > 0
            ? { cacheGeneration: await build.deps.store.taskCaches.generation(build.build.jobId, node.name) }
            : {}),
        },
        outputMapping: node.outputMapping,
      };
      const options = { preferAgent: preferredAgent(scope, stored.spec), endEvents: this.endEvents(id) };
      const ended = await submitDispatched(
        this.deps,
        {
          planId: id,
          name: node.name,
          stored,
          initialize: build.announcement('initialize-task', {
            origin: { id },
            config: taskEventConfig(prepared.spec),
          }),
          onCreated: (created) => build.track(id, created),
        },
        scope,
        build,
        options,
      );
      return this.ended(ended, node, scope, build);
    }
    const stored = run.spec as StoredTaskSpec;
    const ended = await awaitDispatched(this.deps, run, false, scope, build, {
      preferAgent: preferredAgent(scope, stored.spec),
      endEvents: this.endEvents(id),
    });
    return this.ended(ended, node, scope, build);
  }

  private endEvents(id: string): EndEvents {
    return (outcome) => taskEndEvents(id, outcome);
  }

  /** Its outputs for the later steps, and its end events unless they were stored with its end. */
  private async ended(ended: Ended, node: TaskPlan, scope: Scope, build: BuildRun): Promise<Result> {
    scope.register(ended.outputs, node.outputMapping, ended.agentName);
    const endEvents = this.endEvents(scope.id(node.id));
    if (!ended.announced) for (const { type, data } of endEvents(ended)) await build.event(type, data);
    return ended.status;
  }

  /** The dispatchable spec, or the message the step errors with. */
  private async prepare(node: TaskPlan, scope: Scope, build: BuildRun): Promise<{ spec: StepSpec } | string> {
    let config: TaskConfig;
    if (node.config) {
      config = node.config;
    } else if (node.file) {
      const loaded = await this.loadConfigFile(node, scope);
      if (typeof loaded === 'string') return loaded;
      config = loaded;
    } else {
      return `task "${node.name}" has neither config nor file`;
    }

    // Params read from a cluster's Secrets stay references: the agent's pod reads them, never the hub.
    const cluster = splitClusterParams(config.params, (source) => build.isClusterSource(source));
    if (cluster.errors.length > 0) return cluster.errors.join('; ');
    const resolved = build.resolve(
      { config: { ...config, params: cluster.params }, privileged: node.privileged },
      scope,
    );
    if (resolved.missing.length > 0) return undefinedVarsMessage(resolved.missing);
    if (resolved.errors.length > 0) return resolved.errors.join('; ');
    const { config: final, privileged } = resolved.value as { config: TaskConfig; privileged: unknown };

    const missing: string[] = [];
    const digests: Record<string, string> = {};
    for (const input of final.inputs) {
      const artifact = scope.artifacts.get(node.inputMapping[input.name] ?? input.name);
      if (artifact) digests[input.name] = artifact.digest;
      else if (!input.optional) missing.push(input.name);
    }
    if (missing.length > 0) return `missing inputs: ${missing.join(', ')}`;
    const spec = taskStepSpec(node, final, build.build.teamName, digests);
    spec.privileged = privileged === true || privileged === 'true';
    if (cluster.secretEnv.length > 0) spec.secretEnv = cluster.secretEnv;
    const image = await this.fetchedImage(node, final, scope, build);
    if (typeof image === 'string') return image;
    if (image) spec.image = artifactImage(image);
    const imageEnv = image ? await this.imageEnv(image.digest) : {};
    // The image's env (a mock image's MIRRORED_VERSION) sits under the task's own params.
    spec.env = { ...imageEnv, ...spec.env };
    // Only the secrets this task's own config referenced (var sources, unrevealed load_var strings).
    spec.redact = resolved.secrets;
    return { spec };
  }

  /**
   * The image the task names as an artifact: an `image:` artifact, or an image_resource of a type that
   * is not a registry image, fetched through its type. Undefined: a registry image_resource (the spec
   * names it, task-spec.ts) or none. A string: why not.
   */
  private async fetchedImage(
    node: TaskPlan,
    config: TaskConfig,
    scope: Scope,
    build: BuildRun,
  ): Promise<ArtifactBinding | undefined | string> {
    if (node.image !== undefined)
      return scope.artifacts.get(node.image) ?? `image artifact "${node.image}" is not in this build`;
    if (!config.image_resource || REGISTRY_TYPES.has(config.image_resource.type)) return undefined;
    // Fetching the image writes step runs and events of the build: its start comes first.
    await build.started();
    const fetched = await this.deps.image(build, scope, scope.id(node.id), config.image_resource);
    return typeof fetched === 'string'
      ? fetched
      : { digest: fetched.digest, size: fetched.size, agent: null };
  }

  /** The env a fetched image sets for what runs on it: `metadata.json` (a mock image's MIRRORED_VERSION). */
  private async imageEnv(digest: string): Promise<Record<string, string>> {
    const text = await this.deps.artifacts
      .readFile(digest, 'metadata.json', MAX_METADATA_BYTES)
      .then((b) => b.toString('utf8'))
      .catch(() => undefined);
    return text === undefined ? {} : metadataEnv(text);
  }

  private async loadConfigFile(node: TaskPlan, scope: Scope): Promise<TaskConfig | string> {
    const file = node.file;
    if (!file) return `task "${node.name}" has no file`;
    if (file.path === '') return `task file must be ARTIFACT/PATH, not "${file.artifact}"`;
    const artifact = scope.artifacts.get(file.artifact);
    if (!artifact)
      return `task config ${file.artifact}/${file.path}: no artifact named "${file.artifact}" in this build`;
    let text: string;
    try {
      text = (await this.deps.artifacts.readFile(artifact.digest, file.path, MAX_TASK_FILE_BYTES)).toString(
        'utf8',
      );
    } catch (err) {
      return `task config ${file.artifact}/${file.path}: ${(err as Error).message}`;
    }
    // The step's `vars:` fill the file's `((name))`s; what they leave is resolved like any other var.
    const parsed = parseTaskConfig(text, `${file.artifact}/${file.path}`, { vars: node.vars });
    if (!parsed.config) return parsed.diagnostics.map(formatDiagnostic).join('\n');
    return compileTaskConfig(parsed.config, node.params);
  }
}

/** The events that end a task step: its error, if any, and its exit status, if its process ran to its end. */
function taskEndEvents(
  id: string,
  ended: Pick<StepOutcome, 'error' | 'exitStatus'>,
): { type: BuildEventType; data: Record<string, unknown> }[] {
  const events: { type: BuildEventType; data: Record<string, unknown> }[] = [];
  if (ended.error) events.push({ type: 'error', data: { origin: { id }, message: ended.error } });
  if (ended.exitStatus !== null && ended.exitStatus >= 0)
    events.push({ type: 'finish-task', data: { origin: { id }, exit_status: ended.exitStatus } });
  return events;
}

function outputsOf(run: StepRun): TaskResult['outputs'] {
  return (run.result as TaskResult | null)?.outputs ?? [];
}

/** The agent that produced most of a step's input bytes, which likely has them cached. */
function preferredAgent(scope: Scope, spec: StepSpec): string | undefined {
  const bytes = new Map<string, number>();
  for (const input of spec.inputs) {
    for (const artifact of scope.artifacts.values()) {
      if (artifact.digest === input.artifactDigest && artifact.agent) {
        bytes.set(artifact.agent, (bytes.get(artifact.agent) ?? 0) + artifact.size);
      }
    }
  }
  let best: string | undefined;
  for (const [agent, n] of bytes) if (best === undefined || n > (bytes.get(best) ?? 0)) best = agent;
  return best;
}
