// Who is calling and what they may do: a token's team and role, or a logged-in user's roles in every
// team (read at each request, so removing a role takes effect at once). Owners of `main` are admins and
// act as owners of every team, as in Concourse.

import { ROLES, type Role, type Store, type TokenRecord } from '../store/store.js';

export const ADMIN_TEAM = 'main';

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

export async function callerOf(store: Store, token: TokenRecord): Promise<Caller> {
  const roles = new Map<string, Role>();
  let name = `token:${token.name}`;
  if (token.userId !== null) {
    const user = await store.users.getById(token.userId);
    name = user?.name ?? name;
    for (const m of await store.teams.rolesOf(token.userId)) roles.set(m.team.name, m.role);
  } else if (token.teamId !== null && token.role !== null) {
    const team = await store.getTeamById(token.teamId);
    if (team) roles.set(team.name, token.role);
  }
  return { name, token, roles, admin: roles.get(ADMIN_TEAM) === 'owner' };
}
