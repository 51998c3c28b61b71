// `format-pipeline`: the pipeline's YAML with 2-space indentation and each object's keys in Concourse's
// canonical order (the order of its config structs, as `fly get-pipeline` prints them). The yaml library
// keeps comments attached to the keys they precede, so they move with them; flow collections, anchors and
// quoting stay as written. Keys it does not know keep their relative order, after the known ones.

import { Alias, isAlias, isCollection, isMap, isScalar, isSeq, parseDocument, visit } from 'yaml';
import type { Document, Node, YAMLMap } from 'yaml';

import { STEP_KEYS } from './steps.js';

/** How to order one kind of object, and what its fields hold. */
interface Shape {
  order: readonly string[];
  children?: Readonly<Record<string, Child>>;
}

type Child = { map: Shape } | { list: Shape } | 'step' | 'steps' | 'in_parallel';

const TASK_CONFIG: Shape = {
  order: [
    'platform',
    'image_resource',
    'rootfs_uri',
    'inputs',
    'outputs',
    'caches',
    'params',
    'run',
    'container_limits',
  ],
  children: {
    image_resource: { map: { order: ['type', 'source', 'params', 'version'] } },
    inputs: { list: { order: ['name', 'path', 'optional'] } },
    outputs: { list: { order: ['name', 'path'] } },
    run: { map: { order: ['path', 'args', 'dir', 'user'] } },
    container_limits: { map: { order: ['cpu', 'memory'] } },
  },
};

const HOOKS = ['on_success', 'on_failure', 'on_abort', 'on_error', 'ensure'] as const;
const MODIFIERS = ['across', 'fail_fast', 'attempts', 'timeout', 'tags', ...HOOKS];

const STEP_FIELDS: Readonly<Record<string, readonly string[]>> = {
  task: [
    'file',
    'config',
    'image',
    'privileged',
    'vars',
    'params',
    'input_mapping',
    'output_mapping',
    'container_limits',
    'hermetic',
  ],
  get: ['resource', 'passed', 'trigger', 'version', 'params'],
  put: ['resource', 'inputs', 'params', 'get_params', 'no_get'],
  set_pipeline: ['file', 'team', 'instance_vars', 'vars', 'var_files'],
  load_var: ['file', 'format', 'reveal'],
  run: ['type', 'params', 'privileged'],
  in_parallel: [],
  do: [],
  try: [],
};

const hookChildren = Object.fromEntries(HOOKS.map((h) => [h, 'step' as const]));

function stepShape(kind: string): Shape {
  return {
    order: [kind, ...(STEP_FIELDS[kind] ?? []), ...MODIFIERS],
    children: {
      ...hookChildren,
      config: { map: TASK_CONFIG },
      across: { list: { order: ['var', 'values', 'max_in_flight'] } },
      do: 'steps',
      try: 'step',
      in_parallel: 'in_parallel',
    },
  };
}

const JOB: Shape = {
  order: [
    'name',
    'old_name',
    'public',
    'disable_manual_trigger',
    'serial',
    'interruptible',
    'serial_groups',
    'max_in_flight',
    'build_logs_to_retain',
    'build_log_retention',
    ...HOOKS,
    'plan',
  ],
  children: {
    ...hookChildren,
    plan: 'steps',
    build_log_retention: { map: { order: ['builds', 'days', 'minimum_succeeded_builds'] } },
  },
};

/** A resource type's keys, and a prototype's (declared alike). */
const TYPE: Shape = {
  order: ['name', 'type', 'source', 'defaults', 'privileged', 'check_every', 'tags', 'params'],
};

const PIPELINE: Shape = {
  order: ['groups', 'var_sources', 'resources', 'resource_types', 'prototypes', 'jobs', 'display'],
  children: {
    groups: { list: { order: ['name', 'jobs'] } },
    var_sources: { list: { order: ['name', 'type', 'config'] } },
    resources: {
      list: {
        order: [
          'name',
          'old_name',
          'public',
          'type',
          'source',
          'check_every',
          'check_timeout',
          'tags',
          'version',
          'icon',
          'webhook_token',
          'expose_build_created_by',
        ],
      },
    },
    resource_types: { list: TYPE },
    prototypes: { list: TYPE },
    jobs: { list: JOB },
    display: { map: { order: ['background_image', 'background_filter'] } },
  },
};

const keyOf = (key: unknown): string | undefined =>
  isScalar(key) ? (typeof key.value === 'symbol' ? '<<' : String(key.value)) : undefined;

function sortMap(map: YAMLMap, shape: Shape): void {
  const rank = (key: unknown): number => {
    const k = keyOf(key);
    if (k === '<<') return -1;
    const i = k === undefined ? -1 : shape.order.indexOf(k);
    return i === -1 ? shape.order.length : i;
  };
  // Array.prototype.sort is stable: unknown keys keep their order.
  map.items.sort((a, b) => rank(a.key) - rank(b.key));
  for (const pair of map.items) {
    const key = keyOf(pair.key);
    const child = key === undefined ? undefined : shape.children?.[key];
    if (child) formatChild(pair.value as Node | null, child);
  }
}

function formatStep(node: Node | null): void {
  if (!isMap(node)) return;
  const kind = node.items
    .map((p) => keyOf(p.key))
    .find((k) => k !== undefined && (STEP_KEYS as string[]).includes(k));
  if (kind !== undefined) sortMap(node, stepShape(kind));
}

function formatChild(node: Node | null, child: Child): void {
  if (isAlias(node)) return; // formatted where its anchor is
  if (child === 'step') return formatStep(node);
  if (child === 'steps') {
    if (isSeq(node)) for (const item of node.items) formatStep(item as Node | null);
    return;
  }
  if (child === 'in_parallel') {
    if (isSeq(node)) return formatChild(node, 'steps');
    if (isMap(node)) sortMap(node, { order: ['steps', 'limit', 'fail_fast'], children: { steps: 'steps' } });
    return;
  }
  if ('map' in child) {
    if (isMap(node)) sortMap(node, child.map);
  } else if (isSeq(node)) {
    for (const item of node.items) if (isMap(item)) sortMap(item, child.list);
  }
}

/** The first alias that now comes before its anchor, with the anchored node it refers to. */
function misplacedAlias(doc: Document): [Alias, Node] | undefined {
  const seen = new Set<string>();
  let alias: Alias | undefined;
  visit(doc, (_, n) => {
    if (isAlias(n) && !seen.has(n.source)) {
      alias = n;
      return visit.BREAK;
    }
    if ((isScalar(n) || isCollection(n)) && n.anchor) seen.add(n.anchor);
    return undefined;
  });
  if (!alias) return undefined;
  const name = alias.source;
  let target: Node | undefined;
  visit(doc, (_, n) => {
    if ((isScalar(n) || isCollection(n)) && n.anchor === name) {
      target = n;
      return visit.BREAK;
    }
    return undefined;
  });
  return target && [alias, target];
}

/**
 * Sorting keys can move an alias before its anchor, which YAML does not allow. The anchored node then
 * moves to the alias's place and an alias takes its old one: the same data, written in a valid order.
 */
function fixAliasOrder(doc: Document): void {
  for (let found = misplacedAlias(doc); found; found = misplacedAlias(doc)) {
    const [alias, target] = found;
    visit(doc, (_, n) => {
      if (n === alias) return visit.SKIP;
      if (n === target) return new Alias(alias.source);
      return undefined;
    });
    visit(doc, (_, n) => (n === alias ? target : undefined));
  }
}

/** The formatted pipeline; throws on YAML that does not parse (there is nothing safe to print). */
export function formatPipeline(source: string): string {
  const doc = parseDocument(source, { merge: true, uniqueKeys: false });
  const [error] = doc.errors;
  if (error) throw new Error(`cannot format invalid YAML: ${error.message}`);
  if (isMap(doc.contents)) sortMap(doc.contents, PIPELINE);
  fixAliasOrder(doc);
  return doc.toString({ indent: 2, indentSeq: true, lineWidth: 0, flowCollectionPadding: false });
}
