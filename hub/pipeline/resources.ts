// Decoders for the pipeline's other sections: resources, resource types, groups, var sources, display.

import { idTokenConfig } from '../idtoken/config.js';
import { isScalar, isSeq } from 'yaml';

import type {
  DisplayConfig,
  GroupConfig,
  ResourceConfig,
  ResourceTypeConfig,
  VarSourceConfig,
} from './config.js';
import { identifier, uniqueList } from './names.js';
import {
  anyMap,
  bool,
  durationText,
  list,
  literal,
  mapOf,
  envValue,
  optional,
  required,
  str,
  struct,
  type Decoder,
  type StructContext,
} from './schema.js';
import { scopeOf } from './scope.js';

// The types Concourse workers ship with, plus Outpost's built-ins (git, mock, time); any other type must be
// declared under resource_types.
export const BASE_RESOURCE_TYPES: ReadonlySet<string> = new Set([
  'bosh-io-release',
  'bosh-io-stemcell',
  'cf',
  'docker-image',
  'git',
  'github-release',
  'hg',
  'mock',
  'pool',
  'registry-image',
  's3',
  'semver',
  'time',
  'tracker',
]);

/** `check_every`: a duration or "never". */
const checkInterval: Decoder<string> = (node, at) =>
  isScalar(node) && node.value === 'never' ? 'never' : durationText(node, at);

function checkType(type: string, ctx: StructContext): boolean {
  const scope = scopeOf(ctx.at);
  if (!scope || scope.resourceTypes.has(type) || BASE_RESOURCE_TYPES.has(type)) return true;
  ctx.at.walk.error(ctx.entry('type')?.value, `unknown resource type "${type}"`);
  return false;
}

const resource: Decoder<ResourceConfig> = struct(
  {
    label: 'resource',
    fields: {
      name: required(identifier('resource')),
      type: required(literal(str)),
      source: optional(anyMap),
      check_every: optional(checkInterval),
      check_timeout: optional(durationText),
      tags: optional(list(str)),
      public: optional(bool),
      webhook_token: optional(str),
      version: optional(mapOf(envValue)),
      icon: optional(str),
      old_name: optional(str),
      expose_build_created_by: optional(bool),
    },
  },
  (fields, ctx) => (checkType(fields.type, ctx) ? { ...fields, pos: ctx.at.walk.pos(ctx.node) } : undefined),
);

const resourceType: Decoder<ResourceTypeConfig> = struct(
  {
    label: 'resource type',
    fields: {
      name: required(identifier('resource type')),
      type: required(literal(str)),
      source: optional(anyMap),
      privileged: optional(bool),
      params: optional(anyMap),
      check_every: optional(checkInterval),
      tags: optional(list(str)),
      defaults: optional(anyMap),
    },
  },
  (fields, ctx) => {
    // Named like a base type, it shadows that type and its own `type` is the base one (as in Concourse).
    if (fields.type === fields.name && !BASE_RESOURCE_TYPES.has(fields.type)) {
      ctx.at.walk.error(ctx.entry('type')?.value, `resource type "${fields.name}" cannot be of its own type`);
      return undefined;
    }
    return checkType(fields.type, ctx) ? { ...fields, pos: ctx.at.walk.pos(ctx.node) } : undefined;
  },
);

/** Shell-style glob ("build-*", "test-?") to a regular expression over whole job names. */
function globToRegExp(glob: string): RegExp {
  const escaped = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`);
}

/** Which jobs a group's `jobs:` list selects. */
export function groupMatches(pattern: string, job: string): boolean {
  return globToRegExp(pattern).test(job);
}

const group: Decoder<GroupConfig> = struct(
  {
    label: 'group',
    fields: { name: required(identifier('group')), jobs: optional(literal(list(literal(str)))) },
  },
  (fields, { at, entry }) => {
    const scope = scopeOf(at);
    const jobsNode = entry('jobs')?.value;
    if (scope && isSeq(jobsNode)) {
      for (const item of jobsNode.items) {
        const elem = at.walk.resolve(item);
        if (!isScalar(elem) || typeof elem.value !== 'string') continue;
        const pattern = elem.value;
        if (![...scope.jobs.keys()].some((job) => groupMatches(pattern, job))) {
          at.walk.error(elem, `group "${fields.name}": no job matches "${pattern}"`);
        }
      }
    }
    return { name: fields.name, jobs: fields.jobs ?? [] };
  },
);

const varSource: Decoder<VarSourceConfig> = struct(
  {
    label: 'var source',
    fields: {
      name: required(identifier('var source')),
      type: required(literal(str)),
      config: optional(anyMap),
    },
  },
  (fields, ctx) => {
    const config = fields.config ?? {};
    const problem = fields.type === 'idtoken' ? idTokenConfig(config) : undefined;
    if (typeof problem === 'string') {
      ctx.at.walk.error(ctx.entry('config')?.value ?? ctx.node, `var source "${fields.name}": ${problem}`);
      return undefined;
    }
    return { ...fields, config };
  },
);

export const resources = uniqueList('resource', resource);
export const resourceTypes = uniqueList('resource type', resourceType);
export const prototypes = uniqueList('prototype', resourceType);
export const groups = uniqueList('group', group);
export const varSources = uniqueList('var source', varSource);

export const display: Decoder<DisplayConfig> = literal(
  struct({ fields: { background_image: optional(str), background_filter: optional(str) } }),
);
