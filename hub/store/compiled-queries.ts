// Queries compiled to SQL once. Kysely builds and compiles every query anew on each call, and for the
// hottest ones (a step run by id, its lease-fenced updates, a build by id) that costs more hub CPU than
// SQLite running them. Their SQL never changes for a given shape, only the values: so the builder runs
// once per shape with placeholders, and later calls bind their values to the SQL it produced. The
// results still pass through the plugins (decryption); the queries are written as usual with Kysely,
// so they run unchanged on SQLite and PostgreSQL.

import { CompiledQuery, type Compilable, type Kysely, type QueryResult } from 'kysely';

/** Where each of a compiled query's parameters comes from: an argument (its index), or a constant. */
type Binding = { arg: number } | { value: unknown };

interface Compiled {
  sql: string;
  bindings: Binding[];
}

/**
 * Compiled queries of one Kysely instance, by shape. `shape` names everything that changes the SQL
 * (which columns a patch sets, whether a value is NULL); `build` may use each argument only as a bound
 * value, unchanged (checked at the first call of each shape). A value a plugin of the instance
 * transforms (an encrypted column under --encryption-key) cannot be bound to SQL compiled once: such a
 * shape is built and compiled on every call instead.
 */
export class CompiledQueries<DB> {
  /** By shape: its SQL, or 'per call' for a shape whose values a plugin transforms. */
  private readonly compiled = new Map<string, Compiled | 'per call'>();

  constructor(private readonly db: Kysely<DB>) {}

  execute<R, A extends unknown[]>(
    shape: string,
    build: (...args: A) => Compilable<R>,
    ...args: A
  ): Promise<QueryResult<R>> {
    return this.executeOn(this.db, shape, build, ...args);
  }

  /** As execute, on `db`: this instance or a transaction of it (the SQL is the same). */
  async executeOn<R, A extends unknown[]>(
    db: Kysely<DB>,
    shape: string,
    build: (...args: A) => Compilable<R>,
    ...args: A
  ): Promise<QueryResult<R>> {
    let found = this.compiled.get(shape);
    if (!found) {
      found = compile(build, args, this.db.getExecutor().plugins.length > 0);
      this.compiled.set(shape, found);
    }
    if (found === 'per call') return db.executeQuery<R>(build(...args).compile());
    const parameters = found.bindings.map((b) => ('arg' in b ? args[b.arg] : b.value));
    return db.executeQuery<R>(CompiledQuery.raw(found.sql, parameters));
  }
}

/**
 * Compiles once with placeholders, to trace each parameter back to its argument, and once with the
 * real arguments, which must give the same SQL and parameters: a shape that depends on a value, or an
 * argument a plugin transforms, fails here at its first use rather than binding the wrong values.
 */
function compile<R, A extends unknown[]>(
  build: (...args: A) => Compilable<R>,
  args: A,
  plugins: boolean,
): Compiled | 'per call' {
  // Placeholders no real value can equal.
  const placeholders = args.map((_, i) => `\u0000outpost-arg-${i}\u0000`);
  const traced = build(...(placeholders as A)).compile();
  const bindings = traced.parameters.map((p): Binding => {
    const arg = typeof p === 'string' ? placeholders.indexOf(p) : -1;
    return arg < 0 ? { value: p } : { arg };
  });
  const real = build(...args).compile();
  const bound = bindings.map((b) => ('arg' in b ? args[b.arg] : b.value));
  // Same SQL, other values: with plugins, one of them transformed a value (it is not the builder's).
  if (real.sql === traced.sql && !sameValues(real.parameters, bound) && plugins) return 'per call';
  if (real.sql !== traced.sql || !sameValues(real.parameters, bound))
    throw new Error(`compiled query: the SQL or its parameters depend on more than the shape: ${traced.sql}`);
  return { sql: traced.sql, bindings };
}

function sameValues(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
}
