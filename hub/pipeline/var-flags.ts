// The vars given on the command line as fly takes them: `-l FILE` (a YAML map), `-y k=YAML` (a typed
// value) and `-v k=v` (a string). Files come first, then -y, then -v, so a flag overrides a file. A dotted
// key (`-v repo.uri=x`) sets a field inside the var, as in fly. Pure: the caller reads the files.

import { parse } from 'yaml';

import { parseVarRef } from './vars.js';

export interface VarFlags {
  /** Contents of `-l` files, with their names for messages. */
  files?: { name: string; text: string }[];
  yaml?: string[];
  strings?: string[];
}

export type VarsResult = { ok: true; vars: Record<string, unknown> } | { ok: false; error: string };

function setVar(vars: Record<string, unknown>, key: string, value: unknown): string | undefined {
  const ref = parseVarRef(key);
  if (!ref || ref.source !== undefined) return `invalid var name "${key}"`;
  const path = [ref.path, ...ref.fields];
  const last = path.pop() ?? '';
  let target = vars;
  for (const segment of path) {
    const next = target[segment];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) target[segment] = {};
    target = target[segment] as Record<string, unknown>;
  }
  target[last] = value;
  return undefined;
}

function splitPair(flag: string, option: string): [string, string] | string {
  const eq = flag.indexOf('=');
  if (eq <= 0) return `${option} "${flag}": expected NAME=VALUE`;
  return [flag.slice(0, eq), flag.slice(eq + 1)];
}

function parseYaml(text: string, what: string): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: parse(text) as unknown };
  } catch (e) {
    return { ok: false, error: `${what}: ${e instanceof Error ? e.message : String(e)}` };
  }
}

export function collectVars(flags: VarFlags): VarsResult {
  const vars: Record<string, unknown> = {};
  for (const file of flags.files ?? []) {
    const parsed = parseYaml(file.text, file.name);
    if (!parsed.ok) return parsed;
    if (parsed.value === null || parsed.value === undefined) continue;
    if (typeof parsed.value !== 'object' || Array.isArray(parsed.value)) {
      return { ok: false, error: `${file.name}: a vars file must be a map of names to values` };
    }
    for (const [key, value] of Object.entries(parsed.value)) {
      const problem = setVar(vars, key, value);
      if (problem) return { ok: false, error: `${file.name}: ${problem}` };
    }
  }
  const pairs: [string, string, boolean][] = [];
  for (const [list, option, typed] of [
    [flags.yaml, '-y', true],
    [flags.strings, '-v', false],
  ] as const) {
    for (const flag of list ?? []) {
      const pair = splitPair(flag, option);
      if (typeof pair === 'string') return { ok: false, error: pair };
      pairs.push([...pair, typed]);
    }
  }
  for (const [key, text, typed] of pairs) {
    let value: unknown = text;
    if (typed) {
      const parsed = parseYaml(text, `-y ${key}`);
      if (!parsed.ok) return parsed;
      value = parsed.value;
    }
    const problem = setVar(vars, key, value);
    if (problem) return { ok: false, error: problem };
  }
  return { ok: true, vars };
}
