// People beyond local users and what they did: users who log in through OpenID Connect (their subject and
// the groups of their last login), the OIDC groups and users each team maps to a role (`set-team
// --oidc-group/--oidc-user`), exposed pipelines (readable without login), and the audit log of every
// state-changing request and login.

import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  // An OIDC user has no password: its password_hash is '' (verifyPassword refuses a malformed hash).
  await db.schema.alterTable('users').addColumn('oidc_subject', 'text').execute();
  await db.schema.alterTable('users').addColumn('oidc_groups', 'text').execute();
  await db.schema.createIndex('users_oidc_subject').unique().on('users').column('oidc_subject').execute();

  await db.schema
    .createTable('team_oidc_roles')
    .addColumn('team_id', 'integer', (col) => col.notNull().references('teams.id').onDelete('cascade'))
    .addColumn('kind', 'text', (col) => col.notNull())
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('role', 'text', (col) => col.notNull())
    .addPrimaryKeyConstraint('team_oidc_roles_pk', ['team_id', 'kind', 'name'])
    .execute();

  await db.schema
    .alterTable('pipelines')
    .addColumn('public', 'integer', (col) => col.notNull().defaultTo(0))
    .execute();

  // Team and actor are names, not references: the record outlives a destroyed team or user.
  await db.schema
    .createTable('audit_log')
    .addColumn('id', 'integer', (col) => col.primaryKey().autoIncrement())
    .addColumn('at', 'bigint', (col) => col.notNull())
    .addColumn('actor', 'text', (col) => col.notNull())
    .addColumn('team', 'text')
    .addColumn('action', 'text', (col) => col.notNull())
    .addColumn('target', 'text', (col) => col.notNull())
    .addColumn('source', 'text', (col) => col.notNull())
    .addColumn('status', 'integer', (col) => col.notNull())
    .execute();
  await db.schema.createIndex('audit_log_at').on('audit_log').column('at').execute();
  await db.schema.createIndex('audit_log_team_at').on('audit_log').columns(['team', 'at']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('audit_log').execute();
  await db.schema.alterTable('pipelines').dropColumn('public').execute();
  await db.schema.dropTable('team_oidc_roles').execute();
  await db.schema.dropIndex('users_oidc_subject').execute();
  await db.schema.alterTable('users').dropColumn('oidc_groups').execute();
  await db.schema.alterTable('users').dropColumn('oidc_subject').execute();
}
