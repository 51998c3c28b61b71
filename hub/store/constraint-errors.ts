// Recognises a database's constraint-violation errors, so the store can report them as
// StoreConflictError whatever the driver.

import { StoreConflictError } from './store.js';

function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  return typeof err.code === 'string' ? err.code : undefined;
}

/** better-sqlite3: SQLITE_CONSTRAINT_UNIQUE, _FOREIGNKEY, ...; PostgreSQL: SQLSTATE class 23. */
export function isConstraintViolation(err: unknown): boolean {
  const code = errorCode(err);
  return code !== undefined && (code.startsWith('SQLITE_CONSTRAINT') || /^23\d{3}$/.test(code));
}

/**
 * Runs `fn`, turning a constraint violation into a StoreConflictError whose message is `what`: the
 * API shows it to users, so the driver's text (table and column names) stays in its `cause`.
 */
export async function conflictsAs<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof StoreConflictError || !isConstraintViolation(err)) throw err;
    throw new StoreConflictError(what, { cause: err });
  }
}
