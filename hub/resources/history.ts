// Which version history a resource (or resource type) writes to and reads from, and which resource-cache
// entry a fetch may reuse. A history is scoped by the resource's config identity (its type chain and
// source and, for a custom type, the type's own version), as Concourse scopes versions by resource
// config: a new source starts a new history, so no version checked under the old one is chosen again.
// The engine (checks, gets, puts), the scheduler, the checker and the API all key histories here.

import type { ParsedPipeline, ResourceTypeConfig } from '../pipeline/config.js';
import { canonicalJson } from '../store/canonical-json.js';
import type { ResourceScope, ResourceVersion, Store, Version, VersionKey } from '../store/store.js';
import { historyHash, resolveType, sha256, type ResolvedType } from './types.js';

/** A resource or resource type as its config declares it: enough to name its history. */
export interface ResourceRef {
  scope: ResourceScope;
  name: string;
  type: string;
  source?: Record<string, unknown> | undefined;
}

type TypesOf = Pick<ParsedPipeline, 'resource_types'>;

/**
 * The history key of a resource or type: its config (type chain and source) and, for one of a custom
 * type, the type's current version, as in Concourse: a new version of the type starts a new history.
 */
export async function versionKeyOf(
  store: Store,
  pipeline: TypesOf,
  pipelineId: number,
  ref: ResourceRef,
): Promise<VersionKey> {
  const resolved = resolveType(pipeline, ref.type, selfOf(ref));
  return historyKey(
    resolved,
    pipelineId,
    ref,
    await latestTypeVersion(store, pipeline, pipelineId, resolved.direct),
  );
}

/**
 * The resource a get or put step names, as the current config declares it (else as the step's plan froze
 * it): a step of a build made before the resource's source changed uses the new source.
 */
export function stepResource(
  pipeline: Pick<ParsedPipeline, 'resources'>,
  step: { resource: string; type: string; source: Record<string, unknown> },
): Required<ResourceRef> {
  const declared = pipeline.resources.find((r) => r.name === step.resource);
  return {
    scope: 'resource',
    name: step.resource,
    type: declared?.type ?? step.type,
    source: declared?.source ?? step.source,
  };
}

/** A resource type's own name: it never runs on itself (see typeChain). */
export function selfOf(ref: ResourceRef): string | undefined {
  return ref.scope === 'type' ? ref.name : undefined;
}

/** The history key of a resource the pipeline declares (scope `resource`); undefined when it does not. */
export async function declaredKeyOf(
  store: Store,
  pipeline: Pick<ParsedPipeline, 'resource_types' | 'resources'>,
  pipelineId: number,
  name: string,
): Promise<VersionKey | undefined> {
  const declared = pipeline.resources.find((r) => r.name === name);
  return declared && versionKeyOf(store, pipeline, pipelineId, { scope: 'resource', ...declared });
}

/** versionKeyOf, given the type chain and its custom type's newest version (undefined: none). */
export function historyKey(
  resolved: ResolvedType,
  pipelineId: number,
  ref: ResourceRef,
  typeVersion: Version | undefined,
): VersionKey {
  let configHash = historyHash(resolved, ref.type, ref.source ?? {});
  if (typeVersion) configHash = sha256(`${configHash}\n${canonicalJson(typeVersion)}`);
  return { pipelineId, scope: ref.scope, name: ref.name, configHash };
}

/** The newest version of a custom type (undefined for a base type, or one not checked yet). */
export async function latestTypeVersion(
  store: Store,
  pipeline: TypesOf,
  pipelineId: number,
  type: ResourceTypeConfig | undefined,
): Promise<Version | undefined> {
  if (!type) return undefined;
  const key = await versionKeyOf(store, pipeline, pipelineId, { scope: 'type', ...type });
  return (await latestVersion(store, key))?.version;
}

/** The newest enabled version of a history. */
export async function latestVersion(store: Store, key: VersionKey): Promise<ResourceVersion | undefined> {
  return (await store.resources.listVersions(key, { limit: 1 }))[0];
}

/** Whether a stored version belongs to the history `key` names (the resource's current config). */
export function inHistory(version: ResourceVersion, key: VersionKey): boolean {
  return (
    version.pipelineId === key.pipelineId &&
    version.scope === key.scope &&
    version.name === key.name &&
    version.configHash === key.configHash
  );
}

/** What a fetch is: which config, with which source and params (after vars), of which version. */
export interface FetchIdentity {
  teamId: number;
  configHash: string;
  source: Record<string, unknown>;
  params: Record<string, unknown>;
  version: Version;
}

/**
 * The resource-cache key of a fetch. Per team: a get fetched by one team's agent is never handed to
 * another team's builds, so an agent that can poison one fetch cannot plant it for everyone.
 */
export function resourceCacheKey(fetch: FetchIdentity): string {
  return sha256(canonicalJson([fetch.teamId, fetch.configHash, fetch.source, fetch.params, fetch.version]));
}
