// How a resource (or resource type) runs: which base type its type chain ends in, whether the agent
// runs that type itself (git, mock, registry-image, semver, time) or from an image, and the history key of its source.

import { createHash } from 'node:crypto';
import type { ParsedPipeline, ResourceTypeConfig } from '../pipeline/config.js';
import { typeChain } from '../pipeline/checks.js';
import { canonicalJson } from '../store/canonical-json.js';

/** Types the agent implements itself: they need no container and run on every pool that lists them. */
export const BUILTIN_TYPES: ReadonlySet<string> = new Set([
  'git',
  'mock',
  'registry-image',
  'semver',
  'time',
]);
/** Types whose versions are images: a custom type of one runs its own image, not the type itself. */
const IMAGE_TYPES: ReadonlySet<string> = new Set(['registry-image', 'docker-image']);

export interface ResolvedType {
  /** The base type the chain ends in ("mock", "git", ...). */
  base: string;
  builtin: boolean;
  /** The custom type the resource names directly; undefined when it names a base type. */
  direct: ResourceTypeConfig | undefined;
  /** Identifies the type chain's configuration (names, types and sources). */
  hash: string;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** How a type name runs; `self`: the resource type being resolved (it never runs on itself). */
export function resolveType(
  pipeline: Pick<ParsedPipeline, 'resource_types'>,
  type: string,
  self?: string,
): ResolvedType {
  const chain = typeChain(pipeline, type, self);
  const base = chain.at(-1)?.type ?? type;
  return {
    base,
    builtin: BUILTIN_TYPES.has(base) && !(chain.length > 0 && IMAGE_TYPES.has(base)),
    direct: chain[0],
    hash: sha256(canonicalJson(chain.map((t) => [t.name, t.type, t.source ?? {}, t.defaults ?? {}]))),
  };
}

/** The key of a resource's (or type's) version history: a new type or source starts a new one. */
export function historyHash(resolved: ResolvedType, type: string, source: Record<string, unknown>): string {
  return sha256(canonicalJson([type, resolved.hash, source]));
}

/** The source a resource's actions get: its type's `defaults` under its own source. */
export function effectiveSource(
  resolved: ResolvedType,
  source: Record<string, unknown>,
): Record<string, unknown> {
  return { ...(resolved.direct?.defaults ?? {}), ...source };
}
