// The Store's tokens on Kysely: agent and API tokens share one table, told apart by `kind`; only hashes are stored.

import type { Kysely } from 'kysely';
import { CompiledQueries } from './compiled-queries.js';
import { conflictsAs } from './constraint-errors.js';
import { toToken } from './rows.js';
import type { Database } from './schema.js';
import type { NewToken, Store, TokenRecord } from './store.js';

export class KyselyTokens implements Pick<
  Store,
  'createToken' | 'listTokens' | 'findTokenByHash' | 'revokeToken' | 'touchToken'
> {
  /** The lookup by hash runs on every authenticated API call and agent connect: compiled once. */
  private readonly compiled: CompiledQueries<Database>;

  constructor(private readonly db: Kysely<Database>) {
    this.compiled = new CompiledQueries(db);
  }

  async createToken(input: NewToken): Promise<TokenRecord> {
    const row = await conflictsAs(`token "${input.name}" (hash already stored, or unknown team)`, () =>
      this.db
        .insertInto('tokens')
        .values({
          name: input.name,
          hash: input.hash,
          team_id: input.teamId,
          kind: input.kind,
          created_at: input.createdAt,
          role: input.role ?? null,
          expires_at: input.expiresAt ?? null,
          user_id: input.userId ?? null,
          agent_bounds: input.bounds ? JSON.stringify(input.bounds) : null,
        })
        .returningAll()
        .executeTakeFirstOrThrow(),
    );
    return toToken(row);
  }

  async listTokens(kind: TokenRecord['kind']): Promise<TokenRecord[]> {
    const rows = await this.db
      .selectFrom('tokens')
      .selectAll()
      .where('kind', '=', kind)
      .orderBy('id')
      .execute();
    return rows.map(toToken);
  }

  async findTokenByHash(hash: string): Promise<TokenRecord | undefined> {
    const { rows } = await this.compiled.execute(
      'by hash',
      (tokenHash: string) => this.db.selectFrom('tokens').selectAll().where('hash', '=', tokenHash),
      hash,
    );
    const [row] = rows;
    return row && toToken(row);
  }

  async revokeToken(id: number, at: number): Promise<boolean> {
    const res = await this.db
      .updateTable('tokens')
      .set({ revoked_at: at })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return res.numUpdatedRows > 0n;
  }

  async touchToken(id: number, at: number): Promise<void> {
    await this.db.updateTable('tokens').set({ last_used_at: at }).where('id', '=', id).execute();
  }
}
