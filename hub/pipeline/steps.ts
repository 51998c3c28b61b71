// Step decoders. A step map holds exactly one core key (task, get, put, ...) that selects its field
// table, plus the modifiers every step accepts; the compiler nests them in Concourse's precedence.

import { isMap, isScalar, isSeq } from 'yaml';

import type { AcrossVarConfig, GetStepConfig, InParallelConfig, StepConfig, StepKind } from './config.js';
import { identifier, identifierOrVar } from './names.js';
import {
  anyList,
  anyMap,
  bool,
  byKind,
  describe,
  describePath,
  durationText,
  entries,
  envValue,
  int,
  list,
  literal,
  mapOf,
  oneOf,
  optional,
  required,
  str,
  struct,
  type Decoder,
  type Fields,
  type StructContext,
  type StructOf,
  type Where,
} from './schema.js';
import { recordUse, scopeOf } from './scope.js';
import { closestKey, didYouMean } from './suggest.js';
import { containerLimits, params, taskConfig } from './task-config.js';

/**
 * `ARTIFACT/PATH`: a file inside an artifact of the build. Concourse accepts any string here and fails
 * the step when it runs (pipelines rely on it: `set_pipeline: self` with a placeholder file), so another
 * form is a warning, and the step errors if it ever runs.
 */
export const artifactPath: Decoder<string> = literal((node, at) => {
  const value = str(node, at);
  if (value !== undefined && !/^[^/]+\/./.test(value))
    at.walk.warning(
      node,
      `${describePath(at)} should be ARTIFACT/PATH, not "${value}"; the step errors when it runs`,
    );
  return value;
});

const stepRef: Decoder<StepConfig> = literal((node, at) => step(node, at));
const steps: Decoder<StepConfig[]> = literal(list(stepRef));
const hook = optional(stepRef);

const maxInFlight: Decoder<number | string> = byKind<number | string>(
  { scalar: (node, at) => (isScalar(node) && node.value === 'all' ? 'all' : int(1)(node, at)) },
  'a number or "all"',
);

/** `across:`, whose var names must differ (each becomes a local var). */
const across: Decoder<AcrossVarConfig[]> = literal((node, at) => {
  const vars = list(
    struct({
      fields: {
        var: required(identifier('across var')),
        values: required(anyList),
        max_in_flight: optional(maxInFlight),
      },
    }),
  )(node, at);
  if (!isSeq(node)) return vars;
  const seen = new Set<string>();
  for (const elem of node.items) {
    const resolved = at.walk.resolve(elem);
    const name = resolved && isMap(resolved) ? entries(resolved, at).find((e) => e.key === 'var') : undefined;
    if (!name?.value || !isScalar(name.value) || typeof name.value.value !== 'string') continue;
    if (seen.has(name.value.value)) {
      at.walk.error(name.value, `across: var "${name.value.value}" is defined twice`);
      return undefined;
    }
    seen.add(name.value.value);
  }
  return vars;
});

// Modifiers valid on every step kind (Concourse's step modifiers and hooks).
const modifiers = {
  tags: optional(list(str)),
  timeout: optional(durationText),
  // The attempts are compiled up front, so their number must be known.
  attempts: optional(literal(int(1))),
  across: optional(across),
  fail_fast: optional(bool),
  on_success: hook,
  on_failure: hook,
  on_error: hook,
  on_abort: hook,
  ensure: hook,
};

type Build<F extends Fields> = (fields: StructOf<F>, ctx: StructContext) => StepConfig | undefined;

/** A step kind's decoder: its own fields plus the modifiers, labelled "<kind> step" in messages. */
function stepKind<F extends Fields>(
  kind: StepKind,
  fields: F,
  build: Build<F & typeof modifiers>,
): Decoder<StepConfig> {
  return struct({ label: `${kind} step`, fields: { ...fields, ...modifiers } }, (decoded, ctx) => {
    const result = build(decoded, ctx);
    if (result) result.pos = ctx.at.walk.pos(ctx.node);
    return result;
  });
}

/** Checks a get/put's resource against the pipeline's, and records that the job uses it. */
function checkResource(resource: string, ctx: StructContext, key: string): boolean {
  const scope = scopeOf(ctx.at);
  if (!scope) return true;
  if (!scope.resources.has(resource)) {
    ctx.at.walk.error(ctx.entry(key)?.value, `unknown resource "${resource}"`);
    return false;
  }
  recordUse(ctx.at, resource);
  return true;
}

/** Records each `passed:` job for the checks made once all jobs are known. */
function recordPassed(resource: string, ctx: StructContext): void {
  const scope = scopeOf(ctx.at);
  const node = ctx.entry('passed')?.value;
  if (scope?.job === undefined || !isSeq(node)) return;
  for (const item of node.items) {
    const elem = ctx.at.walk.resolve(item);
    if (isScalar(elem) && typeof elem.value === 'string') {
      scope.passed.push({ job: scope.job, resource, passed: elem.value, node: elem });
    }
  }
}

const taskStep = stepKind(
  'task',
  {
    task: required(identifier('task')),
    config: optional(taskConfig),
    file: optional(artifactPath),
    vars: optional(anyMap),
    params: optional(params),
    input_mapping: optional(mapOf(str)),
    output_mapping: optional(mapOf(str)),
    image: optional(str),
    privileged: optional(bool),
    container_limits: optional(containerLimits),
    hermetic: optional(bool),
  },
  (fields, { at, node, entry, given }) => {
    if (given('config') && given('file')) {
      at.walk.error(entry('file')?.keyNode, `task step "${fields.task}" has both config and file; use one`);
      return undefined;
    }
    if (!given('config') && !given('file')) {
      at.walk.error(node, `task step "${fields.task}" needs config or file`);
      return undefined;
    }
    return { kind: 'task', ...fields };
  },
);

/**
 * A get step's `version:` word. Concourse reads any string but "every" as "latest" (fixtures pass a var
 * that is "nil"), so another word is a warning and means "latest".
 */
const getVersionWord: Decoder<'latest' | 'every'> = (node, at) => {
  const value = isScalar(node) ? node.value : undefined;
  if (value === 'latest' || value === 'every') return value;
  if (typeof value !== 'string') return oneOf('latest', 'every')(node, at);
  at.walk.warning(node, `${describePath(at)} "${value}" is neither "latest" nor "every"; it means "latest"`);
  return 'latest';
};

const getStep = stepKind(
  'get',
  {
    get: required(identifier('get')),
    resource: optional(identifier('resource')),
    version: optional(
      byKind<GetStepConfig['version']>(
        { scalar: getVersionWord, map: mapOf(envValue) },
        '"latest", "every" or a version map',
      ),
    ),
    passed: optional(literal(list(literal(str)))),
    params: optional(anyMap),
    trigger: optional(bool),
  },
  (fields, ctx) => {
    const resource = fields.resource ?? fields.get;
    if (!checkResource(resource, ctx, fields.resource === undefined ? 'get' : 'resource')) return undefined;
    recordPassed(resource, ctx);
    return { kind: 'get', ...fields };
  },
);

const putStep = stepKind(
  'put',
  {
    put: required(identifier('put')),
    resource: optional(identifier('resource')),
    inputs: optional(
      byKind<'all' | 'detect' | string[]>(
        { scalar: oneOf('all', 'detect'), list: list(str) },
        '"all", "detect" or a list',
      ),
    ),
    params: optional(anyMap),
    get_params: optional(anyMap),
    no_get: optional(bool),
  },
  (fields, ctx) => {
    const resource = fields.resource ?? fields.put;
    return checkResource(resource, ctx, fields.resource === undefined ? 'put' : 'resource')
      ? { kind: 'put', ...fields }
      : undefined;
  },
);

const setPipelineStep = stepKind(
  'set_pipeline',
  {
    set_pipeline: required(identifierOrVar('pipeline')),
    file: required(artifactPath),
    vars: optional(anyMap),
    var_files: optional(list(artifactPath)),
    team: optional(str),
    instance_vars: optional(anyMap),
  },
  (fields) => ({ kind: 'set_pipeline', ...fields }),
);

const loadVarStep = stepKind(
  'load_var',
  {
    load_var: required(identifier('load_var')),
    file: required(artifactPath),
    format: optional(oneOf('json', 'yaml', 'yml', 'trim', 'raw')),
    reveal: optional(bool),
  },
  (fields) => ({ kind: 'load_var', ...fields }),
);

const runStep = stepKind(
  'run',
  {
    run: required(literal(str)),
    type: required(identifier('prototype')),
    params: optional(anyMap),
    privileged: optional(bool),
  },
  (fields, ctx) => {
    const scope = scopeOf(ctx.at);
    if (scope && !scope.prototypes.has(fields.type)) {
      ctx.at.walk.error(ctx.entry('type')?.value, `unknown prototype "${fields.type}"`);
      return undefined;
    }
    return { kind: 'run', ...fields };
  },
);

const inParallel: Decoder<InParallelConfig> = literal(
  byKind<InParallelConfig>(
    {
      list: (node, at) => {
        const decoded = steps(node, at);
        return decoded && { steps: decoded };
      },
      map: struct({
        fields: { steps: required(steps), limit: optional(literal(int(1))), fail_fast: optional(bool) },
      }),
    },
    'a list of steps or a map with steps',
  ),
);

const inParallelStep = stepKind('in_parallel', { in_parallel: required(inParallel) }, (fields) => ({
  kind: 'in_parallel',
  ...fields,
}));

const doStep = stepKind('do', { do: required(steps) }, (fields) => ({ kind: 'do', ...fields }));

const tryStep = stepKind('try', { try: required(stepRef) }, (fields) => ({ kind: 'try', ...fields }));

/** Every step kind by its core key, in Concourse's order. */
const STEP_KINDS: Record<StepKind, Decoder<StepConfig>> = {
  task: taskStep,
  get: getStep,
  put: putStep,
  set_pipeline: setPipelineStep,
  load_var: loadVarStep,
  run: runStep,
  in_parallel: inParallelStep,
  do: doStep,
  try: tryStep,
};

export const STEP_KEYS = Object.keys(STEP_KINDS) as StepKind[];

function isStepKind(key: string): key is StepKind {
  return Object.hasOwn(STEP_KINDS, key);
}

export function step(node: Parameters<Decoder<StepConfig>>[0], at: Where): StepConfig | undefined {
  if (!isMap(node)) {
    at.walk.error(
      node,
      `${describePath(at)} must be a map (a step such as "task: NAME"), not ${describe(node)}`,
    );
    return undefined;
  }
  const found = entries(node, at);
  const [action, second] = found.filter((e) => isStepKind(e.key));
  if (!action) {
    // A misspelt action ("tsk: build") is the likely cause: name it where it is.
    const misspelt = found.find((e) => closestKey(e.key, STEP_KEYS) !== undefined);
    if (misspelt)
      at.walk.error(
        misspelt.keyNode,
        `unknown step key "${misspelt.key}"${didYouMean(misspelt.key, STEP_KEYS)}`,
      );
    else at.walk.error(node, `step has no action (expected one of ${STEP_KEYS.join(', ')})`);
    return undefined;
  }
  if (second) {
    at.walk.error(second.keyNode, `step has more than one action: "${action.key}" and "${second.key}"`);
    return undefined;
  }
  return STEP_KINDS[action.key as StepKind](node, at);
}
