// A small schema-driven walker over the `yaml` library's node tree. Each config object kind is described
// as a table of fields (see `struct`), so the pipeline language grows by adding table entries, and every
// problem is reported with the position of the node it concerns instead of stopping at the first one.

import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, visit } from 'yaml';
import type { Alias, Document, Node, Scalar, YAMLMap, YAMLSeq } from 'yaml';

import { parseDuration } from '../../common/duration.js';
import { hasErrors, sortDiagnostics, type Diagnostic } from './diagnostics.js';
import { parseMemory } from './memory.js';
import { didYouMean } from './suggest.js';
import { wholeVar } from './vars.js';

/** A node after alias resolution: what decoders look at. */
export type Value = Scalar | YAMLMap | YAMLSeq;

export interface SourcePos {
  /** 1-based. */
  line: number;
  /** 1-based. */
  col: number;
}

// Aliases can nest ("billion laughs"); expanding them while walking must not hang the hub.
const MAX_ALIAS_EXPANSIONS = 10_000;
const MAX_ALIAS_COUNT_TO_JS = 100;

function contains(outer: Node, inner: Node): boolean {
  const [o, i] = [outer.range, inner.range];
  return !!o && !!i && o[0] <= i[0] && i[0] < o[2];
}

/**
 * Resolves every alias in one pass, as YAML defines it: to the last node with that anchor before the alias.
 * (The library's Alias.resolve rescans the whole document for each alias.) An alias inside the node it
 * names would make the config infinite, so it counts as unresolvable.
 */
function indexAliases(doc: Document): { targets: Map<Alias, Value>; problems: [Alias, string][] } {
  const anchors = new Map<string, Value>();
  const targets = new Map<Alias, Value>();
  const problems: [Alias, string][] = [];
  visit(doc, (_, node) => {
    if (isAlias(node)) {
      const target = anchors.get(node.source);
      if (!target) problems.push([node, `alias "*${node.source}" has no anchor "&${node.source}" before it`]);
      else if (contains(target, node))
        problems.push([node, `alias "*${node.source}" is inside the node it refers to`]);
      else targets.set(node, target);
    } else if ((isScalar(node) || isMap(node) || isSeq(node)) && node.anchor) {
      anchors.set(node.anchor, node);
    }
  });
  return { targets, problems };
}

/** Per-document walking state: where diagnostics go, how offsets become line:col, what aliases mean. */
export class Walk {
  readonly diagnostics: Diagnostic[] = [];
  private expansions = 0;
  private indexed: ReturnType<typeof indexAliases> | undefined;

  constructor(
    readonly file: string,
    readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  // Indexed once the nodes are final, so a transform (var interpolation) can replace nodes first.
  private aliases(): ReturnType<typeof indexAliases> {
    if (!this.indexed) {
      this.indexed = indexAliases(this.doc);
      for (const [alias, message] of this.indexed.problems) this.error(alias, message);
    }
    return this.indexed;
  }

  /** Indexes anchors and reports broken aliases (once). */
  checkAliases(): void {
    this.aliases();
  }

  pos(at: Node | SourcePos | null | undefined): SourcePos {
    if (at && 'line' in at) return at;
    return this.lines.linePos(at?.range?.[0] ?? 0);
  }

  error(at: Node | SourcePos | null | undefined, message: string): void {
    this.diagnostics.push({ file: this.file, ...this.pos(at), severity: 'error', message });
  }

  warning(at: Node | SourcePos | null | undefined, message: string): void {
    this.diagnostics.push({ file: this.file, ...this.pos(at), severity: 'warning', message });
  }

  /** Follows an alias to its anchored node; undefined for a missing value or a broken alias (reported). */
  resolve(node: unknown): Value | undefined {
    if (isAlias(node)) {
      if (++this.expansions === MAX_ALIAS_EXPANSIONS) {
        this.error(node, `too many alias expansions (more than ${MAX_ALIAS_EXPANSIONS})`);
      }
      return this.expansions < MAX_ALIAS_EXPANSIONS ? this.aliases().targets.get(node) : undefined;
    }
    return isScalar(node) || isMap(node) || isSeq(node) ? node : undefined;
  }

  /** Plain JS for free-form values (resource sources, vars); the library applies merge keys itself. */
  toJS(node: Value, at: Where): { ok: true; value: unknown } | { ok: false } {
    // A self-referencing alias would give a cyclic object; it has been reported already.
    if (this.aliases().problems.some(([alias]) => contains(node, alias))) return { ok: false };
    try {
      return { ok: true, value: node.toJS(this.doc, { maxAliasCount: MAX_ALIAS_COUNT_TO_JS }) as unknown };
    } catch (e) {
      this.error(node, `${describePath(at)}: ${e instanceof Error ? e.message : String(e)}`);
      return { ok: false };
    }
  }
}

/**
 * Where a decoder is in the document, for messages: `label` names the enclosing config object ("task
 * config"), `path` the field within it ("run.path", "inputs[0].name"; empty for the object itself).
 */
export interface Where {
  walk: Walk;
  label: string;
  path: string;
}

/** Decodes one node; returns undefined after reporting why the node is unusable. */
export type Decoder<T> = (node: Value, at: Where) => T | undefined;

// A whole-value `((var))` is accepted in any position and type-checked when the step runs, except by the
// decoders marked literal: names, structure (steps, task configs) and what the compiler must read.
const LITERAL = new WeakSet<Decoder<unknown>>();

export function literal<T>(decode: Decoder<T>): Decoder<T> {
  LITERAL.add(decode);
  return decode;
}

/** The `((var))` text when `node` is a whole-value var that `decode` accepts in place of a value. */
function templated(node: Value, decode: Decoder<unknown>): string | undefined {
  return !LITERAL.has(decode) && isScalar(node) && typeof node.value === 'string' && wholeVar(node.value)
    ? node.value
    : undefined;
}

/** Runs `decode`, or passes a whole-value var through as written. */
export function decodeOrVar<T>(decode: Decoder<T>, node: Value, at: Where): T | undefined {
  return (templated(node, decode) as T | undefined) ?? decode(node, at);
}

export function describePath(at: Where): string {
  return at.path === '' ? at.label : at.path;
}

export function joinPath(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/** "a map", "a list", "a string", ...: the kind of a node as users see it. */
export function describe(node: Value): string {
  if (isMap(node)) return 'a map';
  if (isSeq(node)) return 'a list';
  const v: unknown = node.value;
  if (v === null) return 'null';
  if (typeof v === 'string') return 'a string';
  if (typeof v === 'number' || typeof v === 'bigint') return 'a number';
  if (typeof v === 'boolean') return 'a boolean';
  return `a ${typeof v}`;
}

function mismatch(node: Value, at: Where, expected: string): undefined {
  at.walk.error(node, `${describePath(at)} must be ${expected}, not ${describe(node)}`);
  return undefined;
}

/** A scalar's text as written: "1.50" stays "1.50", `yes` stays "yes". */
export function scalarText(node: Scalar): string {
  const v: unknown = node.value;
  if (typeof v === 'string') return v;
  if (v === null) return '';
  // Parsed scalars always carry their source; the fallback covers nodes built in code.
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint')
    return node.source ?? String(v);
  return node.source ?? '';
}

// ---- Scalars ---------------------------------------------------------------------------------------------

export const str: Decoder<string> = (node, at) =>
  isScalar(node) && typeof node.value === 'string' ? node.value : mismatch(node, at, 'a string');

export const bool: Decoder<boolean> = (node, at) =>
  isScalar(node) && typeof node.value === 'boolean' ? node.value : mismatch(node, at, 'a boolean');

export function int(min: number): Decoder<number> {
  return (node, at) => {
    if (!isScalar(node) || typeof node.value !== 'number' || !Number.isSafeInteger(node.value)) {
      return mismatch(node, at, 'a whole number');
    }
    if (node.value < min) {
      at.walk.error(node, `${describePath(at)} must be at least ${min}, not ${node.value}`);
      return undefined;
    }
    return node.value;
  };
}

/** A string further checked by `check`, which returns an error message or undefined. */
export function checkedStr(check: (value: string, at: Where) => string | undefined): Decoder<string> {
  return (node, at) => {
    const value = str(node, at);
    if (value === undefined) return undefined;
    const problem = check(value, at);
    if (problem === undefined) return value;
    at.walk.error(node, problem);
    return undefined;
  };
}

/** A positive Go-style duration, in whole milliseconds (rounded up so "1us" does not mean "no limit"). */
export const durationMs: Decoder<number> = (node, at) => {
  // A bare number gets the duration syntax error ("missing unit"), which says how to fix it.
  if (!isScalar(node) || (typeof node.value !== 'string' && typeof node.value !== 'number')) {
    return mismatch(node, at, 'a duration such as "30m" or "1h30m"');
  }
  const text = scalarText(node);
  const parsed = parseDuration(text);
  if (!parsed.ok) {
    at.walk.error(node, `${describePath(at)}: ${parsed.error}`);
    return undefined;
  }
  if (parsed.ms <= 0) {
    at.walk.error(node, `${describePath(at)}: duration must be positive, not "${text}"`);
    return undefined;
  }
  return Math.ceil(parsed.ms);
};

/** A duration as written, checked like `durationMs` (kept as text: plans store durations as strings). */
export const durationText: Decoder<string> = (node, at) =>
  durationMs(node, at) === undefined ? undefined : scalarText(node as Scalar);

/** One of a fixed set of strings. */
export function oneOf<T extends string>(...values: T[]): Decoder<T> {
  return (node, at) => {
    const value = isScalar(node) && typeof node.value === 'string' ? node.value : undefined;
    if (value !== undefined && (values as string[]).includes(value)) return value as T;
    const expected = values.map((v) => `"${v}"`).join(', ');
    if (value === undefined) return mismatch(node, at, `one of ${expected}`);
    at.walk.error(node, `${describePath(at)} must be one of ${expected}, not "${value}"`);
    return undefined;
  };
}

/** Tries decoders by the node's kind: a scalar, a list or a map each go to their own decoder. */
export function byKind<T>(
  kinds: { scalar?: Decoder<T>; list?: Decoder<T>; map?: Decoder<T> },
  expected: string,
): Decoder<T> {
  return (node, at) => {
    const decode = isMap(node) ? kinds.map : isSeq(node) ? kinds.list : kinds.scalar;
    return decode ? decode(node, at) : mismatch(node, at, expected);
  };
}

/** Bytes, from an integer or a size such as "512MB". */
export const memoryBytes: Decoder<number> = (node, at) => {
  if (!isScalar(node) || (typeof node.value !== 'number' && typeof node.value !== 'string')) {
    return mismatch(node, at, 'a number of bytes or a size such as "1GB"');
  }
  const parsed = parseMemory(node.value);
  if (parsed.ok) return parsed.bytes;
  at.walk.error(node, `${describePath(at)}: ${parsed.error}`);
  return undefined;
};

// ---- Collections -----------------------------------------------------------------------------------------

/** A list; undefined if any element is unusable (each one is reported). */
export function list<T>(item: Decoder<T>): Decoder<T[]> {
  return (node, at) => {
    if (!isSeq(node)) return mismatch(node, at, 'a list');
    const out: T[] = [];
    let ok = true;
    for (const [i, raw] of node.items.entries()) {
      const elem = at.walk.resolve(raw);
      const value = elem && decodeOrVar(item, elem, { ...at, path: `${at.path}[${i}]` });
      if (value === undefined) ok = false;
      else out.push(value);
    }
    return ok ? out : undefined;
  };
}

/** A map entry after merge keys and aliases are applied. */
export interface Entry {
  key: string;
  keyNode: Scalar;
  /** Undefined when the key has no value node or its alias is broken (see `broken`). */
  value: Value | undefined;
  /** The value is an alias that could not be resolved: already reported, so not "missing" either. */
  broken: boolean;
}

function isMergeKey(key: unknown): boolean {
  // With `merge: true` the library marks `<<` keys with a symbol value.
  return isScalar(key) && typeof key.value === 'symbol';
}

function isNull(node: Value | undefined): boolean {
  return node === undefined || (isScalar(node) && node.value === null);
}

/**
 * A map's entries in source order, with `<<` merge keys expanded the YAML way: explicit keys win over
 * merged ones, and earlier merge sources win over later ones.
 */
export function entries(map: YAMLMap, at: Where): Entry[] {
  const own: Entry[] = [];
  const merged: Entry[] = [];
  for (const pair of map.items) {
    if (isMergeKey(pair.key)) {
      const source = at.walk.resolve(pair.value);
      const sources = isSeq(source) ? source.items.map((s) => at.walk.resolve(s)) : [source];
      for (const s of sources) {
        if (isMap(s)) merged.push(...entries(s, at));
        else if (s !== undefined) at.walk.error(s, 'a merge key (<<) needs a map or a list of maps');
      }
      continue;
    }
    const keyNode = at.walk.resolve(pair.key);
    if (!isScalar(keyNode)) {
      if (keyNode) at.walk.error(keyNode, `map keys must be strings, not ${describe(keyNode)}`);
      continue;
    }
    const value = at.walk.resolve(pair.value);
    own.push({
      key: scalarText(keyNode),
      keyNode,
      value,
      broken: value === undefined && isAlias(pair.value),
    });
  }
  const seen = new Set(own.map((e) => e.key));
  for (const e of merged) {
    if (seen.has(e.key)) continue;
    seen.add(e.key);
    own.push(e);
  }
  return own;
}

/** Finds a key in a map node (with merges applied), for checks that look across a list of objects. */
export function lookup(node: Value, key: string, at: Where): Entry | undefined {
  return isMap(node) ? entries(node, at).find((e) => e.key === key) : undefined;
}

/** A map of names to values decoded by `item`. */
export function mapOf<T>(item: Decoder<T>): Decoder<Record<string, T>> {
  return (node, at) => {
    if (!isMap(node)) return mismatch(node, at, 'a map');
    const out: [string, T][] = [];
    let ok = true;
    for (const e of entries(node, at)) {
      if (!e.value) {
        ok &&= !e.broken;
        continue;
      }
      const value = decodeOrVar(item, e.value, { ...at, path: joinPath(at.path, e.key) });
      if (value === undefined) ok = false;
      else out.push([e.key, value]);
    }
    // fromEntries defines own properties, so a key like "__proto__" stays an ordinary entry.
    return ok ? Object.fromEntries(out) : undefined;
  };
}

/**
 * Environment-style values: scalars as written ("1.50", "true"), null as "", lists and maps as JSON.
 * Used for `params`, where Concourse turns whatever was written into environment variables.
 */
export const envValue: Decoder<string> = (node, at) => {
  if (isScalar(node)) return scalarText(node);
  const js = at.walk.toJS(node, at);
  return js.ok ? JSON.stringify(js.value) : undefined;
};

/** Only the node's kind is checked: for sections accepted but not used yet. */
export function shape(kind: 'map' | 'list'): Decoder<true> {
  return (node, at) =>
    (kind === 'map' ? isMap(node) : isSeq(node)) ? true : mismatch(node, at, `a ${kind}`);
}

/** A free-form map (resource `source`, `vars`), as plain JS. */
export const anyMap: Decoder<Record<string, unknown>> = (node, at) => {
  if (!isMap(node)) return mismatch(node, at, 'a map');
  const js = at.walk.toJS(node, at);
  return js.ok ? (js.value as Record<string, unknown>) : undefined;
};

/** A free-form list, as plain JS. */
export const anyList: Decoder<unknown[]> = (node, at) => {
  if (!isSeq(node)) return mismatch(node, at, 'a list');
  const js = at.walk.toJS(node, at);
  return js.ok ? (js.value as unknown[]) : undefined;
};

// ---- Objects ---------------------------------------------------------------------------------------------

export interface Field<T, R extends boolean> {
  decode: Decoder<T>;
  required: R;
}

export function required<T>(decode: Decoder<T>): Field<T, true> {
  return { decode, required: true };
}

export function optional<T>(decode: Decoder<T>): Field<T, false> {
  return { decode, required: false };
}

export type Fields = Record<string, Field<unknown, boolean>>;

type Decoded<F> = F extends Field<infer T, boolean> ? T : never;

/** The object a field table decodes to: required fields present, optional ones possibly absent. */
export type StructOf<F extends Fields> = {
  [K in keyof F as F[K]['required'] extends true ? K : never]: Decoded<F[K]>;
} & {
  [K in keyof F as F[K]['required'] extends true ? never : K]?: Decoded<F[K]>;
};

/** What a struct's `build` step can see: the decoded fields and where they were written. */
export interface StructContext {
  at: Where;
  node: YAMLMap;
  entry: (key: string) => Entry | undefined;
  /** Whether the key was given a value, even one that failed to decode (so it is not "missing"). */
  given: (key: string) => boolean;
}

export interface StructSpec<F extends Fields> {
  /**
   * Starts a new naming scope for messages ("task config"): paths inside restart from the object. Nested
   * objects leave it out and are named by their path within the enclosing one ("run.path").
   */
  label?: string | ((node: YAMLMap, at: Where) => string);
  fields: F;
}

/**
 * An object described by a field table. Unknown keys, missing required fields and bad values are all
 * reported; a field set to null counts as absent, like Go's zero values in Concourse. `build` runs
 * cross-field checks and converts to the config type once the required fields are present.
 */
export function struct<F extends Fields>(spec: StructSpec<F>): Decoder<StructOf<F>>;
export function struct<F extends Fields, R>(
  spec: StructSpec<F>,
  build: (fields: StructOf<F>, ctx: StructContext) => R | undefined,
): Decoder<R>;
export function struct<F extends Fields, R>(
  spec: StructSpec<F>,
  build?: (fields: StructOf<F>, ctx: StructContext) => R | undefined,
): Decoder<R | StructOf<F>> {
  return (node, outer) => {
    if (!isMap(node)) return mismatch(node, outer, 'a map');
    const label = typeof spec.label === 'function' ? spec.label(node, outer) : spec.label;
    const at: Where = label === undefined ? outer : { walk: outer.walk, label, path: '' };
    const found = entries(node, at);
    const out: Record<string, unknown> = {};
    let ok = true;
    for (const e of found) {
      const field = Object.hasOwn(spec.fields, e.key) ? spec.fields[e.key] : undefined;
      if (!field) {
        at.walk.error(
          e.keyNode,
          `unknown field "${joinPath(at.path, e.key)}" in ${at.label}${didYouMean(e.key, Object.keys(spec.fields))}`,
        );
        continue;
      }
      if (e.broken) ok = false;
      if (e.value === undefined || isNull(e.value)) continue;
      const value = decodeOrVar(field.decode, e.value, { ...at, path: joinPath(at.path, e.key) });
      if (value === undefined) ok = false;
      else out[e.key] = value;
    }
    let complete = true;
    for (const [key, field] of Object.entries(spec.fields)) {
      if (!field.required || key in out) continue;
      complete = false;
      const e = found.find((f) => f.key === key);
      if (e && (e.broken || !isNull(e.value))) continue; // present but bad: already reported
      at.walk.error(e?.keyNode ?? node, `${at.label} is missing ${joinPath(at.path, key)}`);
    }
    // Cross-field checks need the required fields; without them they would only add noise.
    if (!complete) return undefined;
    const fields = out as StructOf<F>;
    const entry = (k: string): Entry | undefined => found.find((e) => e.key === k);
    const given = (k: string): boolean => {
      const e = entry(k);
      return e !== undefined && (e.broken || !isNull(e.value));
    };
    const built = build ? build(fields, { at, node, entry, given }) : fields;
    return ok ? built : undefined;
  };
}

// ---- Documents -------------------------------------------------------------------------------------------

function yamlMessage(doc: Document, code: string, pos: [number, number], message: string): string {
  if (code === 'DUPLICATE_KEY') {
    // The error only has the key's offset; find the key there to name it.
    let name: string | undefined;
    visit(doc, {
      Pair(_, pair) {
        if (isScalar(pair.key) && pair.key.range?.[0] === pos[0]) {
          name = scalarText(pair.key);
          return visit.BREAK;
        }
        return undefined;
      },
    });
    return name === undefined ? 'duplicate key' : `duplicate key "${name}"`;
  }
  if (code === 'MULTIPLE_DOCS') return 'a file must contain a single YAML document (found "---")';
  return `invalid YAML: ${message}`;
}

/**
 * Parses one YAML document whose root must be a map and decodes it. The result is undefined iff any
 * error was reported; diagnostics come back sorted by position.
 */
export function decodeDocument<T>(
  source: string,
  file: string,
  what: string,
  decoder: Decoder<T>,
  transform?: (doc: Document, walk: Walk) => void,
): { value: T | undefined; diagnostics: Diagnostic[] } {
  const lines = new LineCounter();
  // YAML 1.2 core schema (so `yes` is a string, not a boolean) plus YAML 1.1 merge keys, which
  // Concourse pipelines use heavily.
  const doc = parseDocument(source, {
    lineCounter: lines,
    merge: true,
    prettyErrors: false,
    uniqueKeys: true,
  });
  const walk = new Walk(file, doc, lines);
  for (const e of doc.errors) walk.error(lines.linePos(e.pos[0]), yamlMessage(doc, e.code, e.pos, e.message));
  for (const w of doc.warnings) walk.warning(lines.linePos(w.pos[0]), `YAML: ${w.message}`);
  // After a syntax error the tree may not be what the user meant; only duplicate keys leave it intact.
  const syntaxBroken = doc.errors.some((e) => e.code !== 'DUPLICATE_KEY');
  let value: T | undefined;
  if (!syntaxBroken) {
    transform?.(doc, walk);
    walk.checkAliases();
    const root = walk.resolve(doc.contents);
    if (isNull(root) || root === undefined) walk.error({ line: 1, col: 1 }, `${what} is empty`);
    else if (!isMap(root)) walk.error({ line: 1, col: 1 }, `${what} must be a map, not ${describe(root)}`);
    else value = decoder(root, { walk, label: what, path: '' });
    // Decoders report before failing; if one ever does not, still keep "undefined iff an error" true.
    if (value === undefined && !hasErrors(walk.diagnostics)) walk.error(root, `${what} could not be read`);
  }
  const diagnostics = sortDiagnostics(walk.diagnostics);
  return { value: hasErrors(diagnostics) ? undefined : value, diagnostics };
}
