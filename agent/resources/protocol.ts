// Concourse's resource protocol as the agent speaks it: the request a resource reads on stdin, built
// from the wire's ResourceAction, and the checks its JSON response must pass before it goes back to
// the hub in Finished.resource_result_json.

import type { ResourceAction } from '../../proto/gen/outpost/v1/agent.js';
import { resourceActionFromWire } from '../../common/wire-enums.js';
import type { ExecResource } from '../executors/executor.js';

export type ResourceKind = ExecResource['kind'];

/** The largest response the agent accepts from a resource. */
export const MAX_RESPONSE_BYTES = 1024 * 1024;

/**
 * The request for `action`, per Concourse: check `{source, version}` (version null when there is
 * none), get `{source, params, version}`, put `{source, params}`. A string is what is wrong.
 */
export function execResourceFromWire(action: ResourceAction): ExecResource | string {
  const kind = resourceActionFromWire(action.kind);
  if (!kind) return `resource step: unknown action ${action.kind}`;
  const source = parseObject(action.sourceJson, 'source');
  if (typeof source === 'string') return source;
  const params = parseObject(action.paramsJson, 'params');
  if (typeof params === 'string') return params;
  const version = action.versionJson === '' ? null : parseObject(action.versionJson, 'version');
  if (typeof version === 'string') return version;
  const request =
    kind === 'check'
      ? { source, version }
      : kind === 'get'
        ? { source, params, version }
        : { source, params };
  return { kind, type: action.type, builtin: action.builtin, request: JSON.stringify(request) };
}

/** `{}` for ""; an object, or a message naming the field. */
function parseObject(json: string, field: string): Record<string, unknown> | string {
  if (json === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    return `resource step: ${field} is not JSON: ${(err as Error).message}`;
  }
  // A resource with no source/params at all arrives as null.
  if (value === null) return {};
  if (!isPlainObject(value)) return `resource step: ${field} must be an object, not ${describe(value)}`;
  return value;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** "a number", "a list", "null"... for messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return typeof value === 'string' ? 'a string' : `a ${typeof value}`;
}

/**
 * Checks what a resource printed: check, a JSON array of versions (objects with string values);
 * get/put, `{"version": {...}, "metadata": [{"name", "value"}...]}` (metadata optional). Returns the
 * response as compact JSON (metadata defaulted to []), or `{error}` naming the problem.
 */
export function validateResponse(kind: ResourceKind, text: string): { json: string } | { error: string } {
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_RESPONSE_BYTES)
    return { error: `${kind} response is ${bytes} bytes, over the limit of ${MAX_RESPONSE_BYTES} (1 MiB)` };
  if (text.trim() === '')
    return { error: `${kind} response is empty: the resource printed nothing on stdout` };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const start = text.trim().slice(0, 80);
    return { error: `${kind} response is not JSON (${(err as Error).message}): ${JSON.stringify(start)}` };
  }
  if (kind === 'check') {
    if (!Array.isArray(value))
      return { error: `check response must be a list of versions, not ${describe(value)}` };
    for (const [i, version] of value.entries()) {
      const problem = versionProblem(version);
      if (problem) return { error: `check response: version ${i + 1} ${problem}` };
    }
    return { json: JSON.stringify(value) };
  }
  if (!isPlainObject(value))
    return { error: `${kind} response must be an object with "version", not ${describe(value)}` };
  if (!('version' in value)) return { error: `${kind} response has no "version"` };
  const problem = versionProblem(value.version);
  if (problem) return { error: `${kind} response: "version" ${problem}` };
  const metadata = value.metadata ?? [];
  if (!Array.isArray(metadata))
    return {
      error: `${kind} response: "metadata" must be a list of {name, value}, not ${describe(metadata)}`,
    };
  for (const [i, field] of metadata.entries()) {
    if (!isPlainObject(field) || typeof field.name !== 'string' || typeof field.value !== 'string')
      return { error: `${kind} response: metadata entry ${i + 1} must be {name, value} with string values` };
  }
  return { json: JSON.stringify({ version: value.version, metadata }) };
}

function versionProblem(version: unknown): string | undefined {
  if (!isPlainObject(version)) return `must be an object, not ${describe(version)}`;
  for (const [key, v] of Object.entries(version)) {
    if (typeof v !== 'string') return `key ${JSON.stringify(key)} is ${describe(v)}, not a string`;
  }
  return undefined;
}

const UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** A Go duration ("90s", "1h30m", "1.5h", "500ms") in milliseconds; undefined when malformed. */
export function parseGoDuration(text: string): number | undefined {
  const match = /^([-+]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/.exec(text);
  if (text === '0') return 0;
  if (!match) return undefined;
  let total = 0;
  for (const part of text.replace(/^[-+]/, '').matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) {
    total += Number(part[1]) * (UNITS[part[2] ?? ''] ?? NaN);
  }
  return match[1] === '-' ? -total : total;
}
