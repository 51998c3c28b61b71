// signing_keys: the keys the hub signs `idtoken` var source tokens with (OIDC JWTs for steps), one
// current key per type (RSA for RS256, EC P-256 for ES256), rotated as Concourse rotates its keys.
// The private key is a JWK, encrypted at rest (encryption.ts); the public one is served as the JWKS.

import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('signing_keys')
    .addColumn('kid', 'text', (c) => c.primaryKey())
    .addColumn('kty', 'text', (c) => c.notNull())
    .addColumn('private_jwk', 'text', (c) => c.notNull())
    .addColumn('public_jwk', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('signing_keys').execute();
}
