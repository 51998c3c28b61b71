// The Store's tokens on Kysely: agent and API tokens share one table, told apart by `kind`; only hashes are stored.

import type { Kysely } from 'kysely';
import { CompiledQueries } from './compiled-queries.js';
import { conflictsAs } from './constraint-errors.js';
import { toToken } from './rows.js';
import type { Database } from './schema.js';
import type { FoundToken, NewToken, Role, Store, TokenRecord } from './store.js';
import { toUser } from './kysely-users.js';

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

  /**
   * The token, its team, and for a login token its user and the user's memberships (one row each; one
   * row when it has none): everything an API caller's roles are read from but OIDC rules, in one read.
   */
  async findTokenByHash(hash: string): Promise<FoundToken | undefined> {
    const { rows } = await this.compiled.execute(
      'by hash',
      (tokenHash: string) =>
        this.db
          .selectFrom('tokens')
          .leftJoin('teams', 'teams.id', 'tokens.team_id')
          .leftJoin('users', 'users.id', 'tokens.user_id')
          .leftJoin('team_members', 'team_members.user_id', 'tokens.user_id')
          .leftJoin('teams as member_teams', 'member_teams.id', 'team_members.team_id')
          .selectAll('tokens')
          .select([
            'teams.name as team_name',
            'users.name as user_name',
            'users.password_hash as user_password_hash',
            'users.created_at as user_created_at',
            'users.oidc_subject as user_oidc_subject',
            'users.oidc_groups as user_oidc_groups',
            'member_teams.id as member_team_id',
            'member_teams.name as member_team_name',
            'team_members.role as member_role',
          ])
          .where('tokens.hash', '=', tokenHash),
      hash,
    );
    const [row] = rows;
    if (!row) return undefined;
    const token = toToken(row);
    const user =
      row.user_id === null || row.user_name === null
        ? undefined
        : toUser({
            id: row.user_id,
            name: row.user_name,
            password_hash: row.user_password_hash ?? '',
            created_at: row.user_created_at ?? 0,
            oidc_subject: row.user_oidc_subject,
            oidc_groups: row.user_oidc_groups,
          });
    return {
      token,
      team:
        row.team_id === null || row.team_name === null ? undefined : { id: row.team_id, name: row.team_name },
      user,
      // Sorted here rather than in SQL: an ORDER BY made SQLite sort through a temporary b-tree on every call.
      memberships: user
        ? rows
            .flatMap((r) =>
              r.member_team_id === null || r.member_team_name === null || r.member_role === null
                ? []
                : [
                    {
                      team: { id: r.member_team_id, name: r.member_team_name },
                      user: user.name,
                      role: r.member_role as Role,
                    },
                  ],
            )
            .sort((a, b) => (a.team.name < b.team.name ? -1 : a.team.name > b.team.name ? 1 : 0))
        : [],
    };
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
