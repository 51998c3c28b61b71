// SigningKeyStore on Kysely: the idtoken signing keys (migration 0033). private_jwk is encrypted by
// the store's encryption plugin like every secret column.

import type { Kysely } from 'kysely';
import type { Database } from './schema.js';
import type { SigningKeyRecord, SigningKeyStore } from './store.js';

export class KyselySigningKeys implements SigningKeyStore {
  constructor(private readonly db: Kysely<Database>) {}

  async list(): Promise<SigningKeyRecord[]> {
    const rows = await this.db.selectFrom('signing_keys').selectAll().orderBy('created_at').execute();
    return rows.map((r) => ({
      kid: r.kid,
      kty: r.kty as SigningKeyRecord['kty'],
      privateJwk: r.private_jwk,
      publicJwk: r.public_jwk,
      createdAt: Number(r.created_at),
    }));
  }

  async add(key: SigningKeyRecord): Promise<void> {
    await this.db
      .insertInto('signing_keys')
      .values({
        kid: key.kid,
        kty: key.kty,
        private_jwk: key.privateJwk,
        public_jwk: key.publicJwk,
        created_at: key.createdAt,
      })
      .execute();
  }

  async remove(kid: string): Promise<void> {
    await this.db.deleteFrom('signing_keys').where('kid', '=', kid).execute();
  }
}
