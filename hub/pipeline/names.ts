// Names: Concourse's identifier rule, the name an object gives itself, and lists whose names must be unique.

import { isScalar, isSeq } from 'yaml';
import type { Scalar } from 'yaml';

import {
  checkedStr,
  list,
  literal,
  lookup,
  type Decoder,
  type SourcePos,
  type Value,
  type Where,
} from './schema.js';
import { wholeVar } from './vars.js';

// Concourse's valid identifier: names appear in URLs and CLI arguments.
const IDENTIFIER = /^[\p{Ll}\p{Lt}\p{Lm}\p{Lo}\d][\p{Ll}\p{Lt}\p{Lm}\p{Lo}\d\-_.]*$/u;

/** The longest name of a job, resource, pipeline...: each is a path segment of the API (its router's cut). */
export const MAX_NAME_LENGTH = 1024;

function identifierProblem(kind: string, name: string): string | undefined {
  if (name.length > MAX_NAME_LENGTH)
    return `invalid ${kind} name "${name.slice(0, 40)}…": longer than ${MAX_NAME_LENGTH} characters`;
  return IDENTIFIER.test(name)
    ? undefined
    : `invalid ${kind} name "${name}": must start with a lowercase letter or digit and contain only lowercase letters, digits, "-", "_" and "."`;
}

/** A name following Concourse's identifier rule; never a var, since other config refers to it. */
export function identifier(kind: string): Decoder<string> {
  return literal(checkedStr((name) => identifierProblem(kind, name)));
}

/** An identifier that may also be a whole `((var))`, for names nothing else refers to. */
export function identifierOrVar(kind: string): Decoder<string> {
  return literal(checkedStr((name) => (wholeVar(name) ? undefined : identifierProblem(kind, name))));
}

/** The scalar holding the name a map gives itself (`name:`, `get:`), if it is a plain string. */
export function nameNode(node: Value | undefined, key: string, at: Where): Scalar<string> | undefined {
  const e = node && lookup(node, key, at);
  return e?.value && isScalar(e.value) && typeof e.value.value === 'string'
    ? (e.value as Scalar<string>)
    : undefined;
}

export function ownName(node: Value, key: string, at: Where): string | undefined {
  return nameNode(node, key, at)?.value;
}

/** The `name:` scalars of a list of maps, in order (maps without a plain name are skipped). */
export function namesIn(node: Value | undefined, at: Where, key = 'name'): Scalar<string>[] {
  if (!isSeq(node)) return [];
  return node.items.flatMap((elem) => nameNode(at.walk.resolve(elem), key, at) ?? []);
}

/** A list of named objects: each decoded, and every reuse of an earlier name reported at the name. */
export function uniqueList<T>(kind: string, item: Decoder<T>): Decoder<T[]> {
  return literal((node, at) => {
    const decoded = list(item)(node, at);
    const first = new Map<string, SourcePos>();
    let unique = true;
    for (const name of namesIn(node, at)) {
      const earlier = first.get(name.value);
      if (earlier === undefined) {
        first.set(name.value, at.walk.pos(name));
      } else {
        at.walk.error(name, `duplicate ${kind} name "${name.value}" (first defined at line ${earlier.line})`);
        unique = false;
      }
    }
    return unique ? decoded : undefined;
  });
}
