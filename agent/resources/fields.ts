// Typed decoding of a built-in resource's source and params with clear errors: a key of the wrong
// type names the key (`source.depth must be an integer, not a string`), and keys of the Concourse
// resource that Outpost does not implement are refused by name, so a pipeline never silently loses a
// setting.

import { ResourceFailure } from './builtin.js';
import { describe, isPlainObject } from './protocol.js';

/** Reads typed fields of one object, naming `where.key` in every error. */
export class Fields {
  private constructor(
    private readonly obj: Record<string, unknown>,
    private readonly where: string,
    /** The resource type, for "not supported by Outpost's built-in <type> resource". */
    private readonly type: string,
  ) {}

  static of(raw: unknown, where: string, type: string): Fields {
    if (raw === null || raw === undefined) return new Fields({}, where, type);
    if (!isPlainObject(raw)) throw new ResourceFailure(`${where} must be an object, not ${describe(raw)}`);
    return new Fields(raw, where, type);
  }

  private value(key: string): unknown {
    const v = this.obj[key];
    return v === null ? undefined : v;
  }

  private wrong(key: string, want: string): ResourceFailure {
    return new ResourceFailure(`${this.where}.${key} must be ${want}, not ${describe(this.value(key))}`);
  }

  str(key: string): string | undefined {
    const v = this.value(key);
    if (v === undefined || v === '') return undefined;
    if (typeof v !== 'string') throw this.wrong(key, 'a string');
    return v;
  }

  /** A string, or a number taken as its text (Concourse's `tag: 1.2` in YAML is a number). */
  text(key: string): string | undefined {
    const v = this.value(key);
    if (typeof v === 'number') return String(v);
    return this.str(key);
  }

  bool(key: string): boolean | undefined {
    const v = this.value(key);
    if (v === undefined) return undefined;
    // Concourse's scripts compare the text, so "true" works as well as true.
    if (v === true || v === 'true') return true;
    if (v === false || v === 'false') return false;
    throw this.wrong(key, 'true or false');
  }

  int(key: string): number | undefined {
    const v = this.value(key);
    if (v === undefined) return undefined;
    const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n)) throw this.wrong(key, 'an integer');
    return n;
  }

  strings(key: string): string[] {
    const v = this.value(key);
    if (v === undefined) return [];
    if (!Array.isArray(v) || !v.every((s) => typeof s === 'string'))
      throw this.wrong(key, 'a list of strings');
    return v;
  }

  fields(key: string): Fields {
    return Fields.of(this.value(key), `${this.where}.${key}`, this.type);
  }

  raw(key: string): unknown {
    return this.value(key);
  }

  keys(): string[] {
    return Object.keys(this.obj);
  }

  refuseUnknown(known: string[], unsupported: string[] = []): void {
    for (const key of this.keys()) {
      if (unsupported.includes(key))
        throw new ResourceFailure(
          `${this.where}.${key} is not supported by Outpost's built-in ${this.type} resource`,
        );
      if (!known.includes(key))
        throw new ResourceFailure(`${this.where}: unknown key ${JSON.stringify(key)}`);
    }
  }
}
