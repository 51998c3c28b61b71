// TeamStore on Kysely: teams, the roles users hold in them, and the roles they give OIDC groups and users. Deleting a team deletes what it owns
// through the schema's ON DELETE CASCADE (pipelines, builds, tokens, memberships).

import type { Kysely } from 'kysely';
import { CompiledQueries } from './compiled-queries.js';
import { conflictsAs } from './constraint-errors.js';
import { toTeam } from './rows.js';
import type { Database } from './schema.js';
import type { Membership, OidcRoleRule, Role, Store, Team, TeamStore } from './store.js';

export class KyselyTeamStore implements TeamStore {
  constructor(private readonly db: Kysely<Database>) {}

  async create(name: string): Promise<Team> {
    const row = await conflictsAs(`team "${name}" already exists`, () =>
      this.db.insertInto('teams').values({ name }).returningAll().executeTakeFirstOrThrow(),
    );
    return toTeam(row);
  }

  async list(): Promise<Team[]> {
    return (await this.db.selectFrom('teams').selectAll().orderBy('name').execute()).map(toTeam);
  }

  async rename(id: number, name: string): Promise<boolean> {
    const res = await conflictsAs(`team "${name}" already exists`, () =>
      this.db.updateTable('teams').set({ name }).where('id', '=', id).executeTakeFirst(),
    );
    return res.numUpdatedRows > 0n;
  }

  async destroy(id: number): Promise<boolean> {
    const res = await this.db.deleteFrom('teams').where('id', '=', id).executeTakeFirst();
    return res.numDeletedRows > 0n;
  }

  async setMembers(teamId: number, members: { userId: number; role: Role }[]): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('team_members').where('team_id', '=', teamId).execute();
      if (members.length === 0) return;
      await conflictsAs('team member (unknown user, or listed twice)', () =>
        tx
          .insertInto('team_members')
          .values(members.map((m) => ({ team_id: teamId, user_id: m.userId, role: m.role })))
          .execute(),
      );
    });
  }

  async setOidcRoles(teamId: number, rules: OidcRoleRule[]): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('team_oidc_roles').where('team_id', '=', teamId).execute();
      if (rules.length === 0) return;
      await conflictsAs('OIDC group or user listed twice', () =>
        tx
          .insertInto('team_oidc_roles')
          .values(rules.map((r) => ({ team_id: teamId, kind: r.kind, name: r.name, role: r.role })))
          .execute(),
      );
    });
  }

  async oidcRoles(teamId?: number): Promise<(OidcRoleRule & { team: Team })[]> {
    let query = this.db
      .selectFrom('team_oidc_roles')
      .innerJoin('teams', 'teams.id', 'team_oidc_roles.team_id')
      .select(['teams.id', 'teams.name as team_name', 'kind', 'team_oidc_roles.name', 'role']);
    if (teamId !== undefined) query = query.where('team_id', '=', teamId);
    const rows = await query.orderBy('teams.name').orderBy('kind').orderBy('team_oidc_roles.name').execute();
    return rows.map((r) => ({
      team: { id: r.id, name: r.team_name },
      kind: r.kind as OidcRoleRule['kind'],
      name: r.name,
      role: r.role as Role,
    }));
  }

  private memberships() {
    return this.db
      .selectFrom('team_members')
      .innerJoin('teams', 'teams.id', 'team_members.team_id')
      .innerJoin('users', 'users.id', 'team_members.user_id')
      .select([
        'teams.id as team_id',
        'teams.name as team_name',
        'users.name as user_name',
        'team_members.role',
      ]);
  }

  async members(teamId: number): Promise<Membership[]> {
    const rows = await this.memberships()
      .where('team_members.team_id', '=', teamId)
      .orderBy('users.name')
      .execute();
    return rows.map(toMembership);
  }

  async rolesOf(userId: number): Promise<Membership[]> {
    const rows = await this.memberships()
      .where('team_members.user_id', '=', userId)
      .orderBy('teams.name')
      .execute();
    return rows.map(toMembership);
  }
}

function toMembership(row: {
  team_id: number;
  team_name: string;
  user_name: string;
  role: string;
}): Membership {
  return { team: { id: row.team_id, name: row.team_name }, user: row.user_name, role: row.role as Role };
}

/**
 * The Store's own team lookups (by name, by id), kept with the rest of the team queries. Read on every
 * API call that names a team or carries a team's token: compiled once.
 */
export class KyselyTeamLookup implements Pick<Store, 'getTeam' | 'getTeamById'> {
  private readonly compiled: CompiledQueries<Database>;

  constructor(private readonly db: Kysely<Database>) {
    this.compiled = new CompiledQueries(db);
  }

  async getTeam(name: string): Promise<Team | undefined> {
    const { rows } = await this.compiled.execute(
      'by name',
      (teamName: string) => this.db.selectFrom('teams').selectAll().where('name', '=', teamName),
      name,
    );
    const [row] = rows;
    return row && toTeam(row);
  }

  async getTeamById(id: number): Promise<Team | undefined> {
    const { rows } = await this.compiled.execute(
      'by id',
      (teamId: number) => this.db.selectFrom('teams').selectAll().where('id', '=', teamId),
      id,
    );
    const [row] = rows;
    return row && toTeam(row);
  }
}
