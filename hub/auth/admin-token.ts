// The admin API token: created on the first start, rotated on request. Its secret goes to a 0600 file
// in the data directory and nowhere else (never stdout or the log, which end up in container logs);
// only its hash is kept in the store, as for every token.

import { open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Store } from '../store/store.js';
import type { TokenService } from './tokens.js';

export const ADMIN_TOKEN_FILE = 'admin-token';
const ADMIN_TOKEN_NAME = 'admin';

export interface AdminToken {
  secret: string;
  /** Where the secret was written; undefined for a hub without a data directory. */
  file: string | undefined;
}

/**
 * The first start (no API token yet) creates the admin token. With a data directory its secret goes to
 * ADMIN_TOKEN_FILE; an in-memory hub (tests, benchmarks) has nowhere to put it but its caller.
 */
export async function bootstrapAdminToken(
  store: Store,
  tokens: TokenService,
  dataDir: string | undefined,
): Promise<AdminToken | undefined> {
  if ((await store.listTokens('api')).length > 0) return undefined;
  const secret = await createAdmin(store, tokens);
  return { secret, file: dataDir ? await writeSecretFile(dataDir, secret) : undefined };
}

/**
 * Revokes every live admin token and makes a new one, written to ADMIN_TOKEN_FILE when the hub has a
 * data directory; returns its secret (for the API's caller), the file, and how many it revoked.
 */
export async function rotateAdminToken(
  store: Store,
  tokens: TokenService,
  dataDir: string | undefined,
): Promise<{ secret: string; file: string | undefined; revoked: number }> {
  const live = (await store.listTokens('api')).filter(
    (t) => t.name === ADMIN_TOKEN_NAME && t.revokedAt === null,
  );
  const secret = await createAdmin(store, tokens);
  for (const token of live) await tokens.revoke(token);
  return { secret, file: dataDir ? await writeSecretFile(dataDir, secret) : undefined, revoked: live.length };
}

/** An owner of `main`, the admin team (hub/auth/caller.ts). */
async function createAdmin(store: Store, tokens: TokenService): Promise<string> {
  const main = await store.getTeam('main');
  const { secret } = await tokens.create('api', ADMIN_TOKEN_NAME, main?.id ?? null, { role: 'owner' });
  return secret;
}

/** The secret in DATA_DIR/admin-token, for programs on the hub's host (benchmarks, test harnesses). */
export async function readAdminToken(dataDir: string): Promise<string> {
  return (await readFile(path.join(dataDir, ADMIN_TOKEN_FILE), 'utf8')).trim();
}

/** Written aside with mode 0600 from its creation, then renamed: never readable by others, never half. */
async function writeSecretFile(dataDir: string, secret: string): Promise<string> {
  const file = path.join(dataDir, ADMIN_TOKEN_FILE);
  const aside = `${file}.tmp`;
  await rm(aside, { force: true });
  const handle = await open(aside, 'wx', 0o600);
  try {
    await handle.writeFile(secret + '\n');
    // A umask can only narrow 0600 (even to unreadable); the file is to be exactly owner read-write.
    await handle.chmod(0o600);
  } finally {
    await handle.close();
  }
  await rename(aside, file);
  return file;
}
