// The resource leaves: `get`, `put` (with its implicit get) and `check` (the step of a check build).
// Each runs its resource type's check/in/out on an agent as a step run; built-in types (git, mock, time)
// run inside the agent, others from their type's image. Versions land in the resource's history,
// fetched versions in the resource cache, so an identical later fetch needs no agent at all.

import type { OutputArtifact, ResourceAction, StepSpec } from '../dispatch/types.js';
import type { PipelineConfigs } from '../configs/pipeline-cache.js';
import type { ParsedPipeline } from '../pipeline/config.js';
import { DEFAULT_CHECK_TIMEOUT_MS } from '../pipeline/checks.js';
import type { CheckPlan, GetPlan, ImageResourceConfig, PutPlan } from '../pipeline/plan.js';
import { undefinedVarsMessage } from '../pipeline/vars.js';
import { checkedVersions, fetchedOf } from '../resources/answers.js';
import { recordCheckFailed, recordCheckStarted, recordCheckSucceeded } from '../resources/check-state.js';
import {
  historyKey,
  inHistory,
  latestTypeVersion,
  latestVersion,
  resourceCacheKey,
  selfOf,
  stepResource,
  versionKeyOf,
  type ResourceRef,
} from '../resources/history.js';
import { effectiveSource, resolveType } from '../resources/types.js';
import { canonicalJson } from '../store/canonical-json.js';
import type { StepRun, Version, VersionKey } from '../store/store.js';
import type { BuildRun, LeafRunner, Result } from './build-run.js';
import {
  awaitDispatched,
  endedFromStore,
  stepContext,
  TERMINAL_STEP_STATUSES,
  type DispatchDeps,
  type Ended,
  type StoredDispatchSpec,
} from './dispatched-step.js';
import { registryImageOf, type RegistryImage } from './image-ref.js';
import type { Scope } from './scope.js';

export interface ResourceStepDeps extends DispatchDeps {
  configs: PipelineConfigs;
  /** Images of the base types that are not built in, by type name (git -> concourse/git-resource). */
  coreImages: Readonly<Record<string, string>>;
  /** A check or put added versions to a pipeline's resource histories. */
  versionsSaved: (pipelineId: number) => void;
}

/** What a resource acts on: a resource or a resource type of the build's pipeline. */
type Target = Required<ResourceRef>;

interface Prepared {
  spec: StepSpec;
  key: VersionKey;
  /** The source and params after vars, as the resource sees them. */
  source: Record<string, unknown>;
  params: Record<string, unknown>;
}

/**
 * Where fetched files go: the build's artifacts, or (for a task's image) the caller; `image` when they
 * are a registry image (image-ref.ts).
 */
type Register = (output: OutputArtifact, agent: string | null, image?: RegistryImage) => void;

/** A get, or a put's implicit get, or the fetch of a task's image. */
interface FetchRequest {
  build: BuildRun;
  scope: Scope;
  pipeline: ParsedPipeline;
  /** The step's id in the build. */
  id: string;
  /** The artifact the fetched files become. */
  artifact: string;
  target: Target;
  params: Record<string, unknown>;
  version: Version;
  tags: string[];
  timeoutMs: number | undefined;
  /** Record the fetched version as the build's input, under the pipeline's resource of this name. */
  recordInputOf?: string;
  register?: Register;
}

export class ResourceSteps {
  readonly get: LeafRunner<GetPlan> = { run: (node, scope, build) => this.runGet(node, scope, build) };
  readonly put: LeafRunner<PutPlan> = { run: (node, scope, build) => this.runPut(node, scope, build) };
  readonly check: LeafRunner<CheckPlan> = { run: (node, scope, build) => this.runCheck(node, scope, build) };

  constructor(private readonly deps: ResourceStepDeps) {}

  /**
   * A check, after the check of the type it runs on (`typeCheck`): announced outermost first, run
   * innermost first, as Concourse shows a type chain.
   */
  private async runCheck(node: CheckPlan, scope: Scope, build: BuildRun): Promise<Result> {
    const id = scope.id(node.id);
    const existing = build.steps.get(id);
    if (existing && TERMINAL_STEP_STATUSES.has(existing.status)) return existing.status as Result;
    if (!existing)
      await build.event('initialize-check', { origin: { id }, name: node.name, scope: node.scope });
    // check-resource --shallow: the resource only, on the type versions known already.
    const shallow = node.id === 'check' && build.build.checkRequest?.shallow === true;
    if (node.typeCheck && !shallow) {
      const typeResult = await this.runCheck(node.typeCheck, scope, build);
      if (typeResult !== 'succeeded') return typeResult;
    }
    const pipeline = await this.deps.configs.get(build.build.pipelineId);
    const target: Target = { scope: node.scope, name: node.name, type: node.type, source: node.source };
    // check-resource -f asks the resource for versions from this one on (mock echoes it back).
    const asked = node.id === 'check' ? build.build.checkRequest?.from : undefined;
    const result = await this.checkTarget(
      build,
      scope,
      pipeline,
      id,
      target,
      asked,
      node.tags,
      node.timeoutMs,
    );
    return typeof result === 'object' ? build.fail(node, scope, result.error) : result;
  }

  /**
   * Checks a resource (or type, or a task's image resource) as step `id`, saving what it finds in the
   * history; `from` defaults to the newest known version. A string: why it could not run.
   */
  private async checkTarget(
    build: BuildRun,
    scope: Scope,
    pipeline: ParsedPipeline,
    id: string,
    target: Target,
    asked: Version | undefined,
    tags: string[],
    timeoutMs: number,
  ): Promise<Result | { error: string }> {
    const existing = build.steps.get(id);
    if (existing && TERMINAL_STEP_STATUSES.has(existing.status)) return existing.status as Result;
    const { store, now } = build.deps;
    const key = await versionKeyOf(store, pipeline, build.build.pipelineId, target);
    let run = existing;
    if (!run) {
      if (scope.signal.aborted) return 'aborted';
      // As Concourse: a resource pinned in its config is checked from that version (resources echo it,
      // so a pin the resource never reported becomes one of its versions).
      const pinnedInConfig =
        target.scope === 'resource' && target.name !== ''
          ? pipeline.resources.find((r) => r.name === target.name)?.version
          : undefined;
      const from = asked ?? pinnedInConfig ?? (await latestVersion(store, key))?.version;
      const prepared = await this.prepare(build, scope, pipeline, target, 'check', {}, from, tags, timeoutMs);
      if (typeof prepared === 'string') {
        await recordCheckFailed(store, key, 'errored', prepared, now());
        return { error: prepared };
      }
      await recordCheckStarted(store, key, now());
      run = await this.createRun(build, id, target.name, prepared.spec);
    }
    const ended = await awaitDispatched(this.deps, run, !existing, scope, build);
    const versions = ended.status === 'succeeded' ? checkedVersions(ended.resourceResult) : undefined;
    if (ended.status === 'succeeded' && versions !== undefined) {
      await recordCheckSucceeded(store, key, versions, now());
      await build.event('finish', { origin: { id }, succeeded: true });
      this.deps.versionsSaved(build.build.pipelineId);
      return 'succeeded';
    }
    const error =
      ended.error ??
      (versions === undefined && ended.status === 'succeeded'
        ? 'check returned no version list'
        : `check ${ended.status}`);
    await recordCheckFailed(
      store,
      key,
      ended.status === 'succeeded' ? 'errored' : ended.status,
      error,
      now(),
    );
    if (ended.error) await build.event('error', { origin: { id }, message: ended.error });
    await build.event('finish', { origin: { id }, succeeded: false });
    return ended.status === 'succeeded' ? 'errored' : ended.status;
  }

  /**
   * A task's `image_resource` of a type that is not a plain registry image (mock, custom types): checked
   * and fetched like a get, through the resource cache, as steps `<task id>/image-check` and
   * `/image-get`. Returns the fetched files (their metadata.json sets the task's env), or why not.
   */
  async image(
    build: BuildRun,
    scope: Scope,
    taskId: string,
    image: ImageResourceConfig,
  ): Promise<OutputArtifact | string> {
    const pipeline = await this.deps.configs.get(build.build.pipelineId);
    // An image resource has no name: its history is shared by every image with the same type and source.
    const target: Target = { scope: 'resource', name: '', type: image.type, source: image.source };
    let version = image.version;
    if (!version) {
      const checkId = `${taskId}/image-check`;
      if (!build.steps.has(checkId))
        await build.event('initialize-check', { origin: { id: checkId }, name: 'image', scope: 'resource' });
      const checked = await this.checkTarget(
        build,
        scope,
        pipeline,
        checkId,
        target,
        undefined,
        [],
        DEFAULT_CHECK_TIMEOUT_MS,
      );
      if (typeof checked === 'object') return checked.error;
      if (checked !== 'succeeded') return `checking the task's image ${checked}`;
      const key = await versionKeyOf(build.deps.store, pipeline, build.build.pipelineId, target);
      version = (await latestVersion(build.deps.store, key))?.version;
      if (!version) return `the task's image resource (${image.type}) has no version`;
    }
    let fetched: OutputArtifact | undefined;
    const result = await this.fetch({
      build,
      scope,
      pipeline,
      id: `${taskId}/image-get`,
      artifact: 'image',
      target,
      params: image.params,
      version,
      tags: [],
      timeoutMs: undefined,
      register: (output) => {
        fetched = output;
      },
    });
    if (result !== 'succeeded' || !fetched)
      return `fetching the task's image ${result === 'succeeded' ? 'returned nothing' : result}`;
    return fetched;
  }

  private async runGet(node: GetPlan, scope: Scope, build: BuildRun): Promise<Result> {
    const id = scope.id(node.id);
    const existing = build.steps.get(id);
    if (existing && TERMINAL_STEP_STATUSES.has(existing.status))
      return this.restore(existing, node.name, (output, agent, image) =>
        scope.register([output], {}, agent, image),
      );
    const pipeline = await this.deps.configs.get(build.build.pipelineId);
    const target = stepResource(pipeline, node);
    let version: Version | string;
    if (existing) version = {};
    else version = await this.versionToGet(node, target, pipeline, scope, build);
    if (typeof version === 'string') return build.fail(node, scope, version);
    return this.fetch({
      build,
      scope,
      pipeline,
      id,
      artifact: node.name,
      target,
      params: node.params,
      version,
      tags: node.tags,
      timeoutMs: node.timeoutMs,
      recordInputOf: node.resource,
    });
  }

  private async runPut(node: PutPlan, scope: Scope, build: BuildRun): Promise<Result> {
    const id = scope.id(node.id);
    const { store, now } = build.deps;
    const pipeline = await this.deps.configs.get(build.build.pipelineId);
    const target = stepResource(pipeline, node);
    let run = build.steps.get(id);
    let ended: Ended;
    if (run && TERMINAL_STEP_STATUSES.has(run.status)) {
      ended = endedFromStore(run);
    } else {
      if (!run) {
        if (scope.signal.aborted) return 'aborted';
        const names = putInputs(node, scope);
        if (typeof names === 'string') return build.fail(node, scope, names);
        const prepared = await this.prepare(
          build,
          scope,
          pipeline,
          target,
          'put',
          node.params,
          undefined,
          node.tags,
          node.timeoutMs ?? 0,
        );
        if (typeof prepared === 'string') return build.fail(node, scope, prepared);
        prepared.spec.inputs = names.map((name) => ({
          name,
          path: name,
          optional: false,
          artifactDigest: scope.artifacts.get(name)?.digest ?? '',
        }));
        run = await this.createRun(build, id, node.name, prepared.spec);
        await build.event('initialize-put', { origin: { id } });
        ended = await awaitDispatched(this.deps, run, true, scope, build);
      } else {
        ended = await awaitDispatched(this.deps, run, false, scope, build);
      }
      const put = ended.status === 'succeeded' ? fetchedOf(ended.resourceResult) : undefined;
      if (ended.status === 'succeeded' && !put) {
        ended = { ...ended, status: 'errored', error: 'the resource returned no version' };
      }
      if (ended.error) await build.event('error', { origin: { id }, message: ended.error });
      if (put) {
        const key = await versionKeyOf(store, pipeline, build.build.pipelineId, target);
        const [saved] = await store.resources.saveVersions(key, [put], now());
        if (saved)
          await store.resources.addBuildResources(build.build.id, [
            { direction: 'output', name: node.resource, resource: node.resource, versionId: saved.id },
          ]);
        await build.event('finish-put', {
          origin: { id },
          exit_status: ended.exitStatus ?? 0,
          version: put.version,
          metadata: put.metadata,
        });
        this.deps.versionsSaved(build.build.pipelineId);
      }
    }
    if (ended.status !== 'succeeded' || !node.get) return ended.status;
    const put = fetchedOf(ended.resourceResult);
    if (!put) return 'errored';
    return this.fetch({
      build,
      scope,
      pipeline,
      id: scope.id(node.get.id),
      artifact: node.name,
      target,
      params: node.get.params,
      version: put.version,
      tags: node.tags,
      timeoutMs: node.timeoutMs,
    });
  }

  /** A get, or a put's implicit get: from the resource cache when it has the version, else on an agent. */
  private async fetch(req: FetchRequest): Promise<Result> {
    const { build, scope, pipeline, id, artifact, target, params, version } = req;
    const register: Register =
      req.register ?? ((output, agent, image) => scope.register([output], {}, agent, image));
    const { store, now } = build.deps;
    const existing = build.steps.get(id);
    if (existing && TERMINAL_STEP_STATUSES.has(existing.status))
      return this.restore(existing, artifact, register);
    let run = existing;
    let cacheKey: string | undefined;
    let configHash: string | undefined;
    if (!run) {
      if (scope.signal.aborted) return 'aborted';
      const prepared = await this.prepare(
        build,
        scope,
        pipeline,
        target,
        'get',
        params,
        version,
        req.tags,
        req.timeoutMs ?? 0,
      );
      if (typeof prepared === 'string') {
        await build.event('error', { origin: { id }, message: prepared });
        return 'errored';
      }
      prepared.spec.outputs = [{ name: artifact, path: artifact }];
      if (req.recordInputOf !== undefined) {
        const known = await store.resources.findVersion(prepared.key, version);
        if (known)
          await store.resources.addBuildResources(build.build.id, [
            { direction: 'input', name: artifact, resource: req.recordInputOf, versionId: known.id },
          ]);
      }
      configHash = prepared.key.configHash;
      cacheKey = resourceCacheKey({
        teamId: build.build.teamId,
        configHash,
        source: prepared.source,
        params: prepared.params,
        version,
      });
      const cached = await store.resources.getCache(cacheKey);
      if (cached) {
        run = await this.createRun(build, id, artifact, prepared.spec);
        const outputs = [{ name: artifact, digest: cached.digest, size: cached.size }];
        await store.updateStepRun(run.id, null, {
          status: 'succeeded',
          exitStatus: 0,
          endedAt: now(),
          result: { outputs, resourceResult: { version: cached.version, metadata: cached.metadata } },
        });
        await store.addBuildArtifacts(build.build.id, [cached.digest]);
        await build.event('initialize-get', { origin: { id } });
        await build.event('log', {
          origin: { id, source: 'stdout' },
          payload: 'INFO: found existing resource cache\n',
        });
        await build.event('finish-get', {
          origin: { id },
          exit_status: 0,
          version: cached.version,
          metadata: cached.metadata,
        });
        register(outputs[0] as OutputArtifact, null, registryImageOf(prepared.spec.resource, cached.version));
        return 'succeeded';
      }
      run = await this.createRun(build, id, artifact, prepared.spec);
      await build.event('initialize-get', { origin: { id } });
    }
    const ended = await awaitDispatched(this.deps, run, !existing, scope, build);
    if (ended.error) await build.event('error', { origin: { id }, message: ended.error });
    if (ended.status !== 'succeeded') return ended.status;
    const got = fetchedOf(ended.resourceResult) ?? { version, metadata: [] };
    const output = ended.outputs.find((o) => o.name === artifact);
    if (!output) {
      await build.event('error', { origin: { id }, message: 'the agent returned no fetched files' });
      return 'errored';
    }
    if (cacheKey !== undefined)
      await store.resources.putCache({
        key: cacheKey,
        ...(configHash === undefined ? {} : { configHash }),
        digest: output.digest,
        size: output.size,
        ...got,
        createdAt: now(),
      });
    await build.event('finish-get', { origin: { id }, exit_status: ended.exitStatus ?? 0, ...got });
    register(output, ended.agentName, registryImageOf(specOf(run).resource, got.version));
    return 'succeeded';
  }

  /** A finished get (or put) replayed: its artifact is the build's again. */
  private restore(run: StepRun, artifact: string, register: Register): Result {
    const ended = endedFromStore(run);
    const image = registryImageOf(specOf(run).resource, fetchedOf(ended.resourceResult)?.version);
    for (const output of ended.outputs)
      if (output.name === artifact) register(output, ended.agentName, image);
    return ended.status;
  }

  /**
   * A get's version: pinned in the step (that wins over the resource's pin, as in Concourse), chosen by
   * the scheduler, else the resource's pin, else the newest one. A chosen version is fetched only if
   * the resource's current config has it too: one checked under a source (or type) the resource no
   * longer has is never fetched with the new one (Concourse scopes versions by config).
   */
  private async versionToGet(
    node: GetPlan,
    target: Target,
    pipeline: ParsedPipeline,
    scope: Scope,
    build: BuildRun,
  ): Promise<Version | string> {
    if (typeof node.version === 'object') {
      const resolved = build.resolve(node.version, scope);
      if (resolved.missing.length > 0) return undefinedVarsMessage(resolved.missing);
      return resolved.value as Version;
    }
    const { store } = build.deps;
    const chosen = (await store.resources.listBuildResources(build.build.id)).find(
      (r) => r.direction === 'input' && r.name === node.name,
    );
    const key = await versionKeyOf(store, pipeline, build.build.pipelineId, target);
    if (chosen) {
      const { version } = chosen.version;
      if (inHistory(chosen.version, key) || (await store.resources.findVersion(key, version))) return version;
      return `resource "${node.resource}" changed after this build chose its version ${canonicalJson(version)}, which its new config does not have; trigger the job again`;
    }
    const pinned = pipeline.resources.find((r) => r.name === node.resource)?.version;
    if (pinned) return pinned;
    const latest = await latestVersion(store, key);
    return latest?.version ?? `no versions of resource "${node.resource}" are available yet`;
  }

  private async createRun(build: BuildRun, id: string, name: string, spec: StepSpec): Promise<StepRun> {
    const stored: StoredDispatchSpec = { spec, context: stepContext(build, name) };
    const run = await build.deps.store.createStepRun({
      buildId: build.build.id,
      planId: id,
      name,
      spec: stored,
      at: build.deps.now(),
    });
    build.track(id, run);
    return run;
  }

  /** The step spec of a resource action, or why it cannot run. */
  private async prepare(
    build: BuildRun,
    scope: Scope,
    pipeline: ParsedPipeline,
    target: Target,
    kind: ResourceAction['kind'],
    params: Record<string, unknown>,
    version: Version | undefined,
    tags: string[],
    timeoutMs: number,
  ): Promise<Prepared | string> {
    const { store } = build.deps;
    const resolved = resolveType(pipeline, target.type, selfOf(target));
    const vars = build.resolve({ source: effectiveSource(resolved, target.source), params }, scope);
    if (vars.missing.length > 0) return undefinedVarsMessage(vars.missing);
    if (vars.errors.length > 0) return vars.errors.join('; ');
    const { source, params: finalParams } = vars.value as {
      source: Record<string, unknown>;
      params: Record<string, unknown>;
    };
    const view = build.build;
    const env: Record<string, string> = {
      BUILD_ID: String(view.id),
      BUILD_NAME: view.name,
      BUILD_JOB_NAME: view.jobName,
      BUILD_PIPELINE_NAME: view.pipelineName,
      BUILD_TEAM_NAME: view.teamName,
    };
    let image: StepSpec['image'];
    const direct = resolved.direct;
    // A custom type runs on its own latest version: mock types mirror it, image types run it.
    const typeVersion = await latestTypeVersion(store, pipeline, view.pipelineId, direct);
    if (typeVersion?.version !== undefined) env.MIRRORED_VERSION = typeVersion.version;
    if (!resolved.builtin) {
      const repository = direct ? direct.source?.repository : this.deps.coreImages[resolved.base];
      if (typeof repository !== 'string' || repository === '')
        return direct
          ? `resource type "${direct.name}" has no source.repository to run its image from`
          : `resource type "${resolved.base}" is not built in and the hub has no image for it (set --core-resource-image ${resolved.base}=REPOSITORY)`;
      const tag = direct && typeof direct.source?.tag === 'string' ? direct.source.tag : 'latest';
      image = { repository, tag, digest: typeVersion?.digest ?? '' };
    } else if (!direct && this.deps.coreImages[resolved.base]) {
      // For a pool that runs this built-in type from its image instead (its config says so).
      image = { repository: this.deps.coreImages[resolved.base] ?? '', tag: 'latest', digest: '' };
    }
    const spec: StepSpec = {
      platform: resolved.builtin ? '' : 'linux',
      tags,
      team: view.teamName,
      run: { path: '', args: [], dir: '', user: '' },
      env,
      inputs: [],
      outputs: [],
      privileged: direct?.privileged === true,
      timeoutMs,
      memoryLimitBytes: 0,
      cpuShares: 0,
      // Only the secrets this resource's source and params referenced.
      redact: vars.secrets,
      cachePaths: [],
      ...(image ? { image } : {}),
      resource: {
        kind,
        type: resolved.base,
        builtin: resolved.builtin,
        source,
        params: finalParams,
        version,
      },
    };
    // The type's version was just read: the key needs no second lookup.
    const key = historyKey(resolved, view.pipelineId, target, typeVersion);
    return { spec, key, source, params: finalParams };
  }
}

function specOf(run: StepRun): StepSpec {
  return (run.spec as StoredDispatchSpec).spec;
}

/** The artifacts a put receives: `all`, those its params mention (`detect`), or a list. */
function putInputs(node: PutPlan, scope: Scope): string[] | string {
  const present = [...scope.artifacts.keys()];
  if (node.inputs === 'all') return present;
  if (node.inputs === 'detect') {
    const mentioned = new Set<string>();
    const walk = (v: unknown): void => {
      // A path's first part that is not `.` or `..` (Concourse's detectInputsFromParam).
      if (typeof v === 'string') mentioned.add(v.split('/').find((p) => p !== '.' && p !== '..') ?? v);
      else if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') Object.values(v).forEach(walk);
    };
    walk(node.params);
    return present.filter((name) => mentioned.has(name));
  }
  const missing = node.inputs.filter((name) => !scope.artifacts.has(name));
  return missing.length > 0 ? `missing inputs: ${missing.join(', ')}` : node.inputs;
}
