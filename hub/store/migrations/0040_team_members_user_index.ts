// team_members' primary key is (team_id, user_id): a team's members are found by it, a user's teams are
// not. Every API call with a login token reads its user's memberships (findTokenByHash joins them on
// user_id), and so does rolesOf: each walked the whole table. This indexes user_id.

import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('team_members_user_id').on('team_members').column('user_id').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('team_members_user_id').execute();
}
