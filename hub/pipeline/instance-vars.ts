// Instanced pipelines (Concourse): pipelines of one name that differ by their instance vars form an
// instance group, and each instance is addressed as `name/key:value[,key2:value2]` (fly's syntax). This
// module parses and prints that syntax and the API's `vars` query, and gives an instance its identity
// within its team: the pipeline's key. Pure, so the CLI uses the very same rules.

import { parse as parseYaml } from 'yaml';
import { canonicalJson } from '../store/canonical-json.js';

/** A pipeline's instance vars: a JSON object, nested maps allowed (`a.b:c` is `{a: {b: c}}`). */
export type InstanceVars = Record<string, unknown>;

/** A pipeline as a user names it: its name, and its instance vars when it is an instance. */
export interface PipelineRef {
  name: string;
  instanceVars?: InstanceVars;
}

export class InstanceVarsError extends Error {}

/**
 * A pipeline's identity within its team: its name, or for an instance its name, `/` and the canonical
 * JSON of its instance vars. Names cannot contain `/`, so the key is unambiguous; the store keeps it
 * unique per team.
 */
export function pipelineKey(ref: PipelineRef): string {
  const vars = ref.instanceVars;
  return vars === undefined || Object.keys(vars).length === 0
    ? ref.name
    : `${ref.name}/${canonicalJson(vars)}`;
}

/**
 * The name and instance vars a key stands for (pipelineKey's inverse). A string that is no key (a
 * name with a `/` from some request) stands for a pipeline of that name, which cannot exist.
 */
export function refOfKey(key: string): PipelineRef {
  const slash = key.indexOf('/');
  if (slash < 0) return { name: key };
  let vars: unknown;
  try {
    vars = JSON.parse(key.slice(slash + 1)) as unknown;
  } catch {
    return { name: key };
  }
  return vars !== null && typeof vars === 'object' && !Array.isArray(vars)
    ? { name: key.slice(0, slash), instanceVars: vars as InstanceVars }
    : { name: key };
}

/** fly's `name/key:value,...` form of a pipeline (just `name` without instance vars). */
export function formatPipelineRef(ref: PipelineRef): string {
  const vars = ref.instanceVars;
  return vars === undefined || Object.keys(vars).length === 0
    ? ref.name
    : `${ref.name}/${formatInstanceVars(vars)}`;
}

/** fly's `key:value,...`: flattened dotted keys in sorted order, values as JSON, strings unquoted when safe. */
export function formatInstanceVars(vars: InstanceVars): string {
  return flatten(vars)
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map(({ path, value }) => `${path}:${formatValue(value)}`)
    .join(',');
}

/** Parses fly's `-p name/key:value,...` (or just `name`). */
export function parsePipelineRef(text: string): PipelineRef {
  const slash = text.indexOf('/');
  if (slash < 0) return { name: text };
  return { name: text.slice(0, slash), instanceVars: parseInstanceVars(text.slice(slash + 1)) };
}

/**
 * Parses fly's `key:value[,key2:value2]` (one `-i` flag, or what follows the `/` of a pipeline ref):
 * keys are dotted paths (`a.b` nests), values are YAML (`5` a number, `"a,b"` a string with a comma,
 * `{x: 1}` a map); commas inside quotes, braces and brackets do not separate pairs.
 */
export function parseInstanceVars(text: string): InstanceVars {
  const vars: InstanceVars = {};
  let rest = text;
  for (;;) {
    const colon = findUnquoted(rest, '"', (c) => c === ':');
    if (colon < 0) break;
    const key = rest.slice(0, colon);
    rest = rest.slice(colon + 1);
    const comma = findUnquoted(rest, `"'`, outsideOfYaml(','));
    setPath(vars, keyPath(key), yamlValue(key, comma < 0 ? rest : rest.slice(0, comma)));
    if (comma < 0) return vars;
    rest = rest.slice(comma + 1);
  }
  if (Object.keys(vars).length === 0)
    throw new InstanceVarsError('instance vars should be formatted as <key1:value1>(,<key2:value2>)');
  return vars;
}

/**
 * set-pipeline's `-i` flags merged: each `name=yaml` as fly takes it (`a.b=1` nests), or `key:value,...`
 * as in a pipeline ref.
 */
export function parseInstanceVarFlags(flags: string[]): InstanceVars {
  const vars: InstanceVars = {};
  for (const flag of flags) {
    const eq = flag.indexOf('=');
    if (eq < 0) {
      for (const [k, v] of Object.entries(parseInstanceVars(flag))) vars[k] = v;
      continue;
    }
    const key = flag.slice(0, eq);
    setPath(vars, keyPath(key), yamlValue(key, flag.slice(eq + 1)));
  }
  return vars;
}

/**
 * Instance vars from the API's query, as Concourse reads them: `vars` holds a JSON object, and
 * `vars.a.b` a JSON value at that path (applied after `vars`, in sorted order). Undefined when the query
 * names none.
 */
export function instanceVarsOfQuery(query: Record<string, unknown>): InstanceVars | undefined {
  const keys = Object.keys(query)
    .filter((k) => k === 'vars' || k.startsWith('vars.'))
    .sort();
  if (keys.length === 0) return undefined;
  const root: InstanceVars = {};
  for (const key of keys) {
    const raw = query[key];
    if (typeof raw !== 'string') throw new InstanceVarsError(`query "${key}" must appear once`);
    let value: unknown;
    try {
      value = JSON.parse(raw) as unknown;
    } catch {
      throw new InstanceVarsError(`query "${key}" must be JSON, like {"branch":"main"} or "main"`);
    }
    setPath(root, keyPath(key), value);
  }
  const vars = root.vars;
  if (vars === null || typeof vars !== 'object' || Array.isArray(vars))
    throw new InstanceVarsError('query "vars" must be a JSON object, like {"branch":"main"}');
  return vars as InstanceVars;
}

/** The query that addresses an instance in the API (Concourse's `vars.key=JSON`, one per leaf). */
export function instanceVarsQuery(vars: InstanceVars | undefined): Record<string, string> {
  const query: Record<string, string> = {};
  for (const { path, value } of flatten(vars ?? {})) query[`vars.${path}`] = JSON.stringify(value);
  return query;
}

/** A value given as YAML (an empty one is null). */
function yamlValue(key: string, raw: string): unknown {
  try {
    return (parseYaml(raw) as unknown) ?? null;
  } catch (err) {
    const reason = err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err);
    throw new InstanceVarsError(`invalid value for key '${key}': ${reason}`);
  }
}

function flatten(vars: InstanceVars, prefix = ''): { path: string; value: unknown }[] {
  return Object.entries(vars).flatMap(([k, v]) => {
    const path = prefix + (/^[\w-]+$/.test(k) ? k : JSON.stringify(k));
    return v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0
      ? flatten(v as InstanceVars, `${path}.`)
      : [{ path, value: v }];
  });
}

/** A value as fly prints it: JSON, with a string unquoted when reading it back as YAML gives it again. */
function formatValue(value: unknown): string {
  // JSON.stringify gives undefined for undefined.
  const json = (JSON.stringify(value) as string | undefined) ?? 'null';
  if (typeof value !== 'string' || /[,: /]/.test(value) || value === '') return json;
  let reread: unknown;
  try {
    reread = parseYaml(value) as unknown;
  } catch {
    return json;
  }
  return reread === value ? value : json;
}

/** `a.b."c.d"` -> ['a', 'b', 'c.d']. */
function keyPath(key: string): string[] {
  const parts: string[] = [];
  let rest = key;
  while (rest.length > 0) {
    if (rest.startsWith('"')) {
      const end = rest.indexOf('"', 1);
      if (end < 0) throw new InstanceVarsError(`invalid key '${key}': unterminated quote`);
      parts.push(rest.slice(1, end));
      rest = rest.slice(end + 1);
    } else {
      const dot = rest.indexOf('.');
      parts.push(dot < 0 ? rest : rest.slice(0, dot));
      rest = dot < 0 ? '' : rest.slice(dot);
    }
    if (rest.startsWith('.')) rest = rest.slice(1);
  }
  if (parts.length === 0 || parts.some((p) => p.trim() === ''))
    throw new InstanceVarsError(`invalid key '${key}'`);
  return parts;
}

function setPath(root: InstanceVars, path: string[], value: unknown): void {
  let at = root;
  for (const [i, part] of path.entries()) {
    if (i === path.length - 1) {
      at[part] = value;
      return;
    }
    const next = at[part];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) at[part] = {};
    at = at[part] as InstanceVars;
  }
}

/** The index of the first character `stop` accepts outside quotes (any of `quotes`), or -1. */
function findUnquoted(s: string, quotes: string, stop: (c: string) => boolean): number {
  let quote: string | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s.charAt(i);
    if (quote === undefined) {
      if (stop(c)) return i;
      if (quotes.includes(c)) quote = c;
    } else if (c === quote) quote = undefined;
  }
  return -1;
}

function outsideOfYaml(separator: string): (c: string) => boolean {
  let depth = 0;
  return (c) => {
    if (c === separator && depth === 0) return true;
    if (c === '{' || c === '[') depth++;
    if (c === '}' || c === ']') depth--;
    return false;
  };
}
