// Concourse's task config schema (the `config:` of a task step, or a task file), as field tables.

import type { ContainerLimitsConfig, TaskConfigSpec } from './config.js';
import type { Diagnostic } from './diagnostics.js';
import { withVars } from './interpolate.js';
import {
  anyMap,
  bool,
  decodeDocument,
  envValue,
  int,
  list,
  literal,
  mapOf,
  memoryBytes,
  optional,
  required,
  str,
  struct,
  type Decoder,
} from './schema.js';

/** `container_limits`, shared by task configs and task steps. */
export const containerLimits: Decoder<ContainerLimitsConfig> = struct({
  fields: { cpu: optional(int(0)), memory: optional(memoryBytes) },
});

/** Environment variables: values become strings, null becomes "". */
export const params: Decoder<Record<string, string>> = mapOf(envValue);

// Literal: the compiler applies defaults to it, so it cannot be a `((var))`.
export const taskConfig: Decoder<TaskConfigSpec> = literal(
  struct({
    label: 'task config',
    fields: {
      platform: required(str),
      image_resource: optional(
        struct({
          fields: {
            type: required(str),
            source: required(anyMap),
            params: optional(anyMap),
            version: optional(mapOf(envValue)),
          },
        }),
      ),
      rootfs_uri: optional(str),
      inputs: optional(
        list(struct({ fields: { name: required(str), path: optional(str), optional: optional(bool) } })),
      ),
      outputs: optional(list(struct({ fields: { name: required(str), path: optional(str) } }))),
      caches: optional(list(struct({ fields: { path: required(str) } }))),
      params: optional(params),
      run: required(
        struct({
          fields: { path: required(str), args: optional(list(str)), dir: optional(str), user: optional(str) },
        }),
      ),
      container_limits: optional(containerLimits),
    },
  }),
);

/**
 * A standalone task config file (what `file:` and `execute` load). `vars` (the step's `vars:`) are
 * interpolated on the YAML tree like pipeline vars: whole values keep their type, others stay as written.
 */
export function parseTaskConfig(
  source: string,
  file: string,
  options: { vars?: Readonly<Record<string, unknown>> } = {},
): { config: TaskConfigSpec | undefined; diagnostics: Diagnostic[] } {
  const { value, diagnostics } = decodeDocument(
    source,
    file,
    'task config',
    taskConfig,
    withVars(options.vars),
  );
  return { config: value, diagnostics };
}
