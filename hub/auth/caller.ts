// Who is calling and what they may do: a token's team and role, or a logged-in user's roles in every
// team (read at each request, so removing a role takes effect at once). A user's roles come from the
// teams that list them as members and, for a user who logged in through OpenID Connect, from the teams
// whose OIDC rules name the user or one of the groups of their last login. Owners of `main` are admins
// and act as owners of every team, as in Concourse.

import {
  ROLES,
  type FoundToken,
  type Membership,
  type Role,
  type Store,
  type TokenRecord,
  type User,
} from '../store/store.js';

export const ADMIN_TEAM = 'main';

/** The prefix of the name an OIDC user gets (`oidc:alice`): it can never be a local user's name. */
export const OIDC_USER_PREFIX = 'oidc:';

export interface Caller {
  /** The user's name, or `token:<name>` for an API token not issued to a user. */
  name: string;
  token: TokenRecord;
  /** Team name -> the caller's role in it. */
  roles: ReadonlyMap<string, Role>;
  admin: boolean;
}

export function atLeast(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

/** The caller's role in a team: owner everywhere for admins, undefined where the caller has none. */
export function roleIn(caller: Caller, team: string): Role | undefined {
  return caller.admin ? 'owner' : caller.roles.get(team);
}

/**
 * Team name -> the user's highest role in it, from memberships (read unless given) and (OIDC users) the
 * teams' OIDC rules.
 */
export async function rolesOfUser(
  store: Store,
  user: User,
  memberships?: Membership[],
): Promise<Map<string, Role>> {
  const roles = new Map<string, Role>();
  const grant = (team: string, role: Role) => {
    const had = roles.get(team);
    if (!had || !atLeast(had, role)) roles.set(team, role);
  };
  for (const m of memberships ?? (await store.teams.rolesOf(user.id))) grant(m.team.name, m.role);
  if (user.oidc) {
    const { subject, groups } = user.oidc;
    const names = [user.name.slice(OIDC_USER_PREFIX.length), subject];
    for (const rule of await store.teams.oidcRoles())
      if (rule.kind === 'group' ? groups.includes(rule.name) : names.includes(rule.name))
        grant(rule.team.name, rule.role);
  }
  return roles;
}

export function isAdmin(roles: ReadonlyMap<string, Role>): boolean {
  return roles.get(ADMIN_TEAM) === 'owner';
}

/** The caller a verified token stands for, from what was read with it (roles are never cached). */
export async function callerOf(
  store: Store,
  { token, team, user, memberships }: FoundToken,
): Promise<Caller> {
  let roles = new Map<string, Role>();
  let name = `token:${token.name}`;
  if (token.userId !== null) {
    if (user) {
      name = user.name;
      roles = await rolesOfUser(store, user, memberships);
    }
  } else if (team && token.role !== null) {
    roles.set(team.name, token.role);
  }
  return { name, token, roles, admin: isAdmin(roles) };
}
