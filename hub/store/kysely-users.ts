// UserStore on Kysely: local users (a name and an encoded password hash each) and users who log in
// through OpenID Connect (a name, the provider's subject and the groups of their last login).

import type { Kysely, Selectable } from 'kysely';
import { conflictsAs } from './constraint-errors.js';
import { num } from './rows.js';
import type { Database, UsersTable } from './schema.js';
import type { User, UserStore } from './store.js';

export function toUser(row: Selectable<UsersTable>): User {
  return {
    id: row.id,
    name: row.name,
    passwordHash: row.password_hash,
    createdAt: num(row.created_at),
    oidc:
      row.oidc_subject === null
        ? null
        : { subject: row.oidc_subject, groups: JSON.parse(row.oidc_groups ?? '[]') as string[] },
  };
}

export class KyselyUserStore implements UserStore {
  constructor(private readonly db: Kysely<Database>) {}

  async create(input: Omit<User, 'id' | 'oidc'>): Promise<User> {
    const row = await conflictsAs(`user "${input.name}" already exists`, () =>
      this.db
        .insertInto('users')
        .values({ name: input.name, password_hash: input.passwordHash, created_at: input.createdAt })
        .returningAll()
        .executeTakeFirstOrThrow(),
    );
    return toUser(row);
  }

  async get(name: string): Promise<User | undefined> {
    const row = await this.db.selectFrom('users').selectAll().where('name', '=', name).executeTakeFirst();
    return row && toUser(row);
  }

  async getById(id: number): Promise<User | undefined> {
    const row = await this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toUser(row);
  }

  async list(): Promise<User[]> {
    return (await this.db.selectFrom('users').selectAll().orderBy('name').execute()).map(toUser);
  }

  async setPassword(id: number, passwordHash: string): Promise<boolean> {
    const res = await this.db
      .updateTable('users')
      .set({ password_hash: passwordHash })
      .where('id', '=', id)
      .executeTakeFirst();
    return res.numUpdatedRows > 0n;
  }

  async upsertOidc(input: { subject: string; name: string; groups: string[]; at: number }): Promise<User> {
    const groups = JSON.stringify(input.groups);
    const updated = await this.db
      .updateTable('users')
      .set({ oidc_groups: groups })
      .where('oidc_subject', '=', input.subject)
      .returningAll()
      .executeTakeFirst();
    if (updated) return toUser(updated);
    const row = await conflictsAs(`user "${input.name}" already exists`, () =>
      this.db
        .insertInto('users')
        .values({
          name: input.name,
          password_hash: '',
          created_at: input.at,
          oidc_subject: input.subject,
          oidc_groups: groups,
        })
        .returningAll()
        .executeTakeFirstOrThrow(),
    );
    return toUser(row);
  }
}
