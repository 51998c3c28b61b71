// Concourse's `((var))` references: syntax, and substitution into plain values. Pure.
//
// A reference is `((path))`, `((path.field.field))`, `((source:path.field))` or `((.:local))` (load_var
// and across vars); any segment may be quoted to contain dots: `(("a.b".c))`. A string that is exactly one
// reference is a whole-value var and takes the value with its type; a reference inside a longer string is
// replaced by the value's text, which only works for strings, numbers and booleans (as in Concourse).

export interface VarRef {
  /** The var source (`vault:`, `.` for local vars); undefined for the default source. */
  source?: string;
  path: string;
  /** Fields looked up inside the var's value, in order. */
  fields: string[];
}

/** One `((...))` found in a string. */
export interface VarMatch {
  ref: VarRef;
  /** The reference as written, without the parentheses: "vs:foo.bar". */
  name: string;
  start: number;
  end: number;
}

/** Looks a var up by source and path; fields are then followed by the caller. Undefined: not found. */
export type VarLookup = (ref: VarRef) => unknown;

const CANDIDATE = /\(\(([^()]*)\)\)/g;
const SOURCE = /^([-\w\p{L}.]+):/u;
const SEGMENT = /^(?:"([^"]+)"|([-/\w\p{L}]+))/u;

/** Parses the inside of `((...))`; undefined when it is not a valid reference (then it is plain text). */
export function parseVarRef(inner: string): VarRef | undefined {
  let rest = inner.trim();
  const source = SOURCE.exec(rest);
  if (source) rest = rest.slice(source[0].length);
  const segments: string[] = [];
  for (;;) {
    const m = SEGMENT.exec(rest);
    if (!m) return undefined;
    segments.push(m[1] ?? m[2] ?? '');
    rest = rest.slice(m[0].length);
    if (rest === '') break;
    if (!rest.startsWith('.')) return undefined;
    rest = rest.slice(1);
  }
  const [path = '', ...fields] = segments;
  return source ? { source: source[1] ?? '', path, fields } : { path, fields };
}

export function findVars(text: string): VarMatch[] {
  const out: VarMatch[] = [];
  for (const m of text.matchAll(CANDIDATE)) {
    const inner = m[1] ?? '';
    const ref = parseVarRef(inner);
    if (ref) out.push({ ref, name: inner.trim(), start: m.index, end: m.index + m[0].length });
  }
  return out;
}

/** The reference when `text` is exactly one `((var))`, else undefined. */
export function wholeVar(text: string): VarMatch | undefined {
  const [only, second] = findVars(text);
  return only && !second && only.start === 0 && only.end === text.length ? only : undefined;
}

export type FieldResult = { found: true; value: unknown } | { found: false; missingField?: string };

/** Looks the var up and follows its fields; `missingField` names a field the var does not have. */
export function lookupVar(ref: VarRef, lookup: VarLookup): FieldResult {
  let value = lookup(ref);
  if (value === undefined) return { found: false };
  for (const field of ref.fields) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, field)) {
      return { found: false, missingField: field };
    }
    value = (value as Record<string, unknown>)[field];
  }
  return { found: true, value };
}

/** The text of a value interpolated into a string, or undefined when it has none (maps, lists, null). */
export function inlineText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  return undefined;
}

export interface StringResult {
  /** The new value; the original string when nothing was substituted. */
  value: unknown;
  changed: boolean;
  /** References that were not found (left as written). */
  missing: string[];
  /** Problems with found vars, as messages. */
  errors: string[];
}

/** Substitutes the vars `lookup` knows into one string; unknown ones stay as written. */
export function substitute(text: string, lookup: VarLookup): StringResult {
  const matches = findVars(text);
  const result: StringResult = { value: text, changed: false, missing: [], errors: [] };
  if (matches.length === 0) return result;
  const whole = wholeVar(text);
  let out = '';
  let last = 0;
  for (const m of matches) {
    const found = lookupVar(m.ref, lookup);
    if (!found.found) {
      if (found.missingField === undefined) result.missing.push(m.name);
      else result.errors.push(`var "${m.name}": no field "${found.missingField}"`);
      continue;
    }
    if (whole) return { ...result, value: found.value, changed: true };
    const inline = inlineText(found.value);
    if (inline === undefined) {
      result.errors.push(
        `var "${m.name}" is ${describeValue(found.value)} and cannot be interpolated into a string`,
      );
      continue;
    }
    out += text.slice(last, m.start) + inline;
    last = m.end;
    result.changed = true;
  }
  if (result.changed) result.value = out + text.slice(last);
  return result;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  return Array.isArray(value) ? 'a list' : 'a map';
}

/**
 * The error of a step whose vars are missing: the names on the first line (what tools match), then how
 * to give each kind: pipeline vars with set-pipeline's flags, local vars with load_var.
 */
export function undefinedVarsMessage(missing: readonly string[]): string {
  const lines = [`undefined vars: ${missing.join(', ')}`];
  const local = missing.filter((name) => name.startsWith('.:'));
  const sourced = missing.filter((name) => !name.startsWith('.:') && parseVarRef(name)?.source !== undefined);
  // `((repo.uri))` is given as the var `repo`.
  const plain = [
    ...new Set(
      missing
        .filter((name) => !local.includes(name) && !sourced.includes(name))
        .map((name) => parseVarRef(name)?.path ?? name),
    ),
  ];
  if (plain.length > 0) {
    const first = plain[0] ?? '';
    lines.push(
      `  give ${plain.join(', ')} when setting the pipeline: ` +
        `${plain.map((name) => `-v ${name}=VALUE`).join(' ')} (or -y ${first}=YAML, or -l FILE with a "${first}:" key)`,
    );
  }
  if (local.length > 0)
    lines.push(`  set ${local.join(', ')} with a load_var step (or across) before the step that uses it`);
  if (sourced.length > 0) lines.push(`  ${sourced.join(', ')}: not found in the named var source`);
  return lines.join('\n');
}

/**
 * Resolves every reference in a plain value (strings inside lists and maps, recursively) at run time.
 * The engine fails the step with `undefinedVarsMessage(missing)` when `missing` is not empty.
 * `lookup` returns the var's value by source and path; fields are followed here.
 */
export function resolveVars(
  value: unknown,
  lookup: VarLookup,
): { value: unknown; missing: string[]; errors: string[] } {
  const missing = new Set<string>();
  const errors: string[] = [];
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') {
      const r = substitute(v, lookup);
      for (const name of r.missing) missing.add(name);
      errors.push(...r.errors);
      return r.value;
    }
    if (Array.isArray(v)) return v.map(walk);
    if (typeof v === 'object' && v !== null) {
      return Object.fromEntries(Object.entries(v).map(([k, inner]) => [k, walk(inner)]));
    }
    return v;
  };
  const resolved = walk(value);
  return { value: resolved, missing: [...missing], errors };
}

/** A lookup over vars given at set-pipeline time: only references without a source use them. */
export function staticLookup(vars: Readonly<Record<string, unknown>>): VarLookup {
  return (ref) => (ref.source === undefined && Object.hasOwn(vars, ref.path) ? vars[ref.path] : undefined);
}
