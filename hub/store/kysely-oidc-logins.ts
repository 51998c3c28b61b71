// OidcLoginStore on Kysely: started OpenID Connect logins, shared by every hub replica. Taking a login
// deletes its row and returns it in one statement (DELETE ... RETURNING), so a state is good once even
// when two callbacks with it reach two replicas at the same moment.

import type { Kysely, Selectable } from 'kysely';
import { num } from './rows.js';
import type { Database, OidcLoginsTable } from './schema.js';
import type { OidcLoginStore, StoredOidcLogin } from './store.js';

function toLogin(row: Selectable<OidcLoginsTable>): StoredOidcLogin {
  return {
    stateHash: row.state_hash,
    context: row.context,
    codeVerifier: row.code_verifier,
    nonce: row.nonce,
    expiresAt: num(row.expires_at),
  };
}

export class KyselyOidcLogins implements OidcLoginStore {
  constructor(private readonly db: Kysely<Database>) {}

  async put(login: StoredOidcLogin, now: number): Promise<void> {
    await this.db.deleteFrom('oidc_logins').where('expires_at', '<=', now).execute();
    await this.db
      .insertInto('oidc_logins')
      .values({
        state_hash: login.stateHash,
        context: login.context,
        code_verifier: login.codeVerifier,
        nonce: login.nonce,
        expires_at: login.expiresAt,
      })
      .execute();
  }

  async pending(now: number): Promise<number> {
    const row = await this.db
      .selectFrom('oidc_logins')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('expires_at', '>', now)
      .executeTakeFirstOrThrow();
    return num(row.n);
  }

  async take(stateHash: string, now: number): Promise<StoredOidcLogin | undefined> {
    const row = await this.db
      .deleteFrom('oidc_logins')
      .where('state_hash', '=', stateHash)
      .returningAll()
      .executeTakeFirst();
    return row && num(row.expires_at) > now ? toLogin(row) : undefined;
  }
}
