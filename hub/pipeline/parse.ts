// Pipeline YAML -> typed config (config.ts) plus diagnostics. Pure: no I/O. Each object kind is a field
// table (schema.ts; steps in steps.ts, other sections in resources.ts); references between them (get ->
// resource, passed -> job, group -> job) are checked with the names collected up front (scope.ts).

import type { JobConfig, ParsedPipeline } from './config.js';
import type { Diagnostic } from './diagnostics.js';
import { withVars } from './interpolate.js';
import { identifier, ownName, uniqueList } from './names.js';
import {
  display,
  groupMatches,
  groups,
  prototypes,
  resources,
  resourceTypes,
  varSources,
} from './resources.js';
import {
  bool,
  decodeDocument,
  int,
  list,
  literal,
  optional,
  required,
  str,
  struct,
  type Decoder,
} from './schema.js';
import { checkPassed, openScope, scopeOf } from './scope.js';
import { step } from './steps.js';

export type * from './config.js';

const hook = optional(literal(step));

const jobStruct: Decoder<JobConfig> = struct(
  {
    label: (node, at) => {
      const name = ownName(node, 'name', at);
      return name === undefined ? 'job' : `job "${name}"`;
    },
    fields: {
      name: required(identifier('job')),
      plan: required(literal(list(literal(step)))),
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

/** A job, with the scope told which job its steps belong to. */
const job: Decoder<JobConfig> = literal((node, at) => {
  const scope = scopeOf(at);
  if (scope) scope.job = ownName(node, 'name', at);
  const decoded = jobStruct(node, at);
  if (scope) scope.job = undefined;
  return decoded;
});

const pipelineStruct = struct(
  {
    label: 'pipeline',
    fields: {
      jobs: required(uniqueList('job', job)),
      resources: optional(resources),
      resource_types: optional(resourceTypes),
      groups: optional(groups),
      var_sources: optional(varSources),
      prototypes: optional(prototypes),
      display: optional(display),
    },
  },
  (fields): ParsedPipeline => ({
    jobs: fields.jobs,
    resources: fields.resources ?? [],
    resource_types: fields.resource_types ?? [],
    groups: fields.groups ?? [],
    var_sources: fields.var_sources ?? [],
    ...(fields.prototypes ? { prototypes: fields.prototypes } : {}),
    ...(fields.display ? { display: fields.display } : {}),
  }),
);

const pipeline: Decoder<ParsedPipeline> = (node, at) => {
  const scope = openScope(node, at);
  const decoded = pipelineStruct(node, at);
  checkPassed(scope, at);
  // With groups, a job in none of them is hidden in the UI: Concourse warns.
  const patterns = decoded?.groups.flatMap((g) => g.jobs);
  if (patterns && patterns.length > 0) {
    for (const [name, where] of scope.jobs) {
      if (!patterns.some((p) => groupMatches(p, name)))
        at.walk.warning(where, `job "${name}" is not in any group`);
    }
  }
  return decoded;
};

export interface ParseOptions {
  /** Vars given at set-pipeline time (-v/-y/-l); references to others stay as written. */
  vars?: Record<string, unknown>;
}

/** Parses a pipeline file. `pipeline` is undefined iff there is an error diagnostic; all are reported. */
export function parsePipeline(
  source: string,
  file: string,
  options: ParseOptions = {},
): { pipeline: ParsedPipeline | undefined; diagnostics: Diagnostic[] } {
  const { value, diagnostics } = decodeDocument(source, file, 'pipeline', pipeline, withVars(options.vars));
  return { pipeline: value, diagnostics };
}
