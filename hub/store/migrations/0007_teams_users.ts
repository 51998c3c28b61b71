// Teams shared by many people: local users, their roles in teams (Concourse's owner, member,
// pipeline-operator, viewer) and API tokens scoped to a team and role, with an expiry. The admin token
// of earlier versions (an API token without a team) becomes an owner-of-main token.

import { sql } from 'kysely';
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('users')
    .addColumn('id', 'integer', (col) => col.primaryKey().autoIncrement())
    .addColumn('name', 'text', (col) => col.notNull().unique())
    .addColumn('password_hash', 'text', (col) => col.notNull())
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('team_members')
    .addColumn('team_id', 'integer', (col) => col.notNull().references('teams.id').onDelete('cascade'))
    .addColumn('user_id', 'integer', (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('role', 'text', (col) => col.notNull())
    .addPrimaryKeyConstraint('team_members_pk', ['team_id', 'user_id'])
    .execute();

  await db.schema.alterTable('tokens').addColumn('role', 'text').execute();
  await db.schema.alterTable('tokens').addColumn('expires_at', 'bigint').execute();
  await db.schema
    .alterTable('tokens')
    .addColumn('user_id', 'integer', (col) => col.references('users.id').onDelete('cascade'))
    .execute();

  await sql`update tokens set role = 'owner', team_id = (select id from teams where name = 'main')
            where kind = 'api' and team_id is null`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('tokens').dropColumn('user_id').execute();
  await db.schema.alterTable('tokens').dropColumn('expires_at').execute();
  await db.schema.alterTable('tokens').dropColumn('role').execute();
  await db.schema.dropTable('team_members').execute();
  await db.schema.dropTable('users').execute();
}
