// Pipeline YAML -> typed config (config.ts) plus diagnostics. Pure: no I/O. Each object kind is a field
// table (schema.ts), and step kinds are dispatched through STEP_KINDS, so supporting a new step kind means
// adding its table there.

import { isMap, isScalar, isSeq } from 'yaml';

import type { JobConfig, ParsedPipeline, StepConfig, TaskStepConfig } from './config.js';
import type { Diagnostic } from './diagnostics.js';
import {
  anyList,
  anyMap,
  bool,
  checkedStr,
  describe,
  describePath,
  decodeDocument,
  durationMs,
  entries,
  int,
  list,
  lookup,
  mapOf,
  optional,
  required,
  str,
  struct,
  shape,
  type Decoder,
  type SourcePos,
  type Value,
  type Where,
} from './schema.js';
import { containerLimits, params, taskConfig } from './task-config.js';

export type * from './config.js';

// Concourse's valid identifier: names appear in URLs and CLI arguments.
const IDENTIFIER = /^[\p{Ll}\p{Lt}\p{Lm}\p{Lo}\d][\p{Ll}\p{Lt}\p{Lm}\p{Lo}\d\-_.]*$/u;

function identifier(kind: string): Decoder<string> {
  return checkedStr((name) =>
    IDENTIFIER.test(name)
      ? undefined
      : `invalid ${kind} name "${name}": must start with a lowercase letter or digit and contain only lowercase letters, digits, "-", "_" and "."`,
  );
}

/** The name a map gives itself (`name:` or `task:`), for labels in messages, if it is a plain string. */
function ownName(node: Value, key: string, at: Where): string | undefined {
  const e = lookup(node, key, at);
  return e?.value && isScalar(e.value) && typeof e.value.value === 'string' ? e.value.value : undefined;
}

// Hooks are steps; until every step kind compiles they are only checked to be maps.
const hook = optional(anyMap);

// Modifiers valid on every step kind (Concourse's step modifiers and hooks).
const stepModifiers = {
  tags: optional(list(str)),
  timeout: optional(durationMs),
  attempts: optional(int(1)),
  across: optional(anyList),
  on_success: hook,
  on_failure: hook,
  on_error: hook,
  on_abort: hook,
  ensure: hook,
};

const taskStep: Decoder<TaskStepConfig> = struct(
  {
    label: 'task step',
    fields: {
      task: required(identifier('task')),
      config: optional(taskConfig),
      file: optional(str),
      params: optional(params),
      privileged: optional(bool),
      image: optional(str),
      input_mapping: optional(mapOf(str)),
      output_mapping: optional(mapOf(str)),
      vars: optional(anyMap),
      container_limits: optional(containerLimits),
      hermetic: optional(bool),
      ...stepModifiers,
    },
  },
  ({ file, config, timeout, ...rest }, { at, node, entry, given }) => {
    const name = rest.task;
    if (file !== undefined) {
      at.walk.error(
        entry('file')?.keyNode,
        `task "${name}": file: is not supported yet, use an inline config`,
      );
      return undefined;
    }
    if (config === undefined) {
      if (!given('config')) at.walk.error(node, `task "${name}" is missing config`);
      return undefined;
    }
    const step: TaskStepConfig = { kind: 'task', ...rest, config, pos: at.walk.pos(node) };
    if (timeout !== undefined) step.timeoutMs = timeout;
    return step;
  },
);

/** Every step kind by its identifying key, in Concourse's order; undefined ones are not supported yet. */
const STEP_KINDS: Record<string, Decoder<StepConfig> | undefined> = {
  task: taskStep,
  get: undefined,
  put: undefined,
  set_pipeline: undefined,
  load_var: undefined,
  in_parallel: undefined,
  do: undefined,
  try: undefined,
};

const step: Decoder<StepConfig> = (node, at) => {
  if (!isMap(node)) {
    at.walk.error(
      node,
      `${describePath(at)} must be a map (a step such as "task: NAME"), not ${describe(node)}`,
    );
    return undefined;
  }
  const actions = entries(node, at).filter((e) => Object.hasOwn(STEP_KINDS, e.key));
  const [action, second] = actions;
  if (!action) {
    at.walk.error(node, `step has no action (expected one of ${Object.keys(STEP_KINDS).join(', ')})`);
    return undefined;
  }
  if (second) {
    at.walk.error(second.keyNode, `step has more than one action: "${action.key}" and "${second.key}"`);
    return undefined;
  }
  const decode = STEP_KINDS[action.key];
  if (!decode) {
    at.walk.error(action.keyNode, `${action.key} steps are not supported yet`);
    return undefined;
  }
  return decode(node, at);
};

const job: Decoder<JobConfig> = struct(
  {
    label: (node, at) => {
      const name = ownName(node, 'name', at);
      return name === undefined ? 'job' : `job "${name}"`;
    },
    fields: {
      name: required(identifier('job')),
      plan: required(list(step)),
      serial: optional(bool),
      serial_groups: optional(list(str)),
      max_in_flight: optional(int(1)),
      build_log_retention: optional(
        struct({
          fields: {
            builds: optional(int(0)),
            days: optional(int(0)),
            minimum_succeeded_builds: optional(int(0)),
          },
        }),
      ),
      build_logs_to_retain: optional(int(0)),
      public: optional(bool),
      disable_manual_trigger: optional(bool),
      interruptible: optional(bool),
      old_name: optional(str),
      on_success: hook,
      on_failure: hook,
      on_error: hook,
      on_abort: hook,
      ensure: hook,
    },
  },
  (fields, { at, node }) => ({ ...fields, pos: at.walk.pos(node) }),
);

/** The jobs list: each job decoded, and every job reusing an earlier job's name reported at its name. */
const jobs: Decoder<JobConfig[]> = (node, at) => {
  const decoded = list(job)(node, at);
  if (!isSeq(node)) return decoded;
  const first = new Map<string, SourcePos>();
  let unique = true;
  for (const elem of node.items) {
    const resolved = at.walk.resolve(elem);
    const nameNode = resolved && lookup(resolved, 'name', at)?.value;
    if (!isScalar(nameNode) || typeof nameNode.value !== 'string') continue;
    const name = nameNode.value;
    const earlier = first.get(name);
    if (earlier === undefined) {
      first.set(name, at.walk.pos(nameNode));
    } else {
      at.walk.error(nameNode, `duplicate job name "${name}" (first defined at line ${earlier.line})`);
      unique = false;
    }
  }
  return unique ? decoded : undefined;
};

const pipeline: Decoder<ParsedPipeline> = struct(
  {
    label: 'pipeline',
    fields: {
      jobs: required(jobs),
      // Other Concourse top-level keys are accepted so existing pipelines parse; only their kind is checked.
      resources: optional(shape('list')),
      resource_types: optional(shape('list')),
      groups: optional(shape('list')),
      var_sources: optional(shape('list')),
      display: optional(shape('map')),
    },
  },
  ({ jobs }) => ({ jobs }),
);

/** Parses a pipeline file. `pipeline` is undefined iff there is an error diagnostic; all are reported. */
export function parsePipeline(
  source: string,
  file: string,
): { pipeline: ParsedPipeline | undefined; diagnostics: Diagnostic[] } {
  const { value, diagnostics } = decodeDocument(source, file, 'pipeline', pipeline);
  return { pipeline: value, diagnostics };
}
