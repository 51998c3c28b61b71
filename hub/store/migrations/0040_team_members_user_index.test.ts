import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { migrateBefore } from '../../../test/support/old-database.js';
import { postgresSkip, testPostgresOnce } from '../../../test/support/store-backends.js';
import { openPostgresStore } from '../postgres.js';
import * as m0040 from './0040_team_members_user_index.js';
import { migrateToLatest } from './index.js';

// How SQLite reaches team_members in the two reads of a user's memberships, as kysely-tokens.ts
// (findTokenByHash) and kysely-teams.ts (rolesOf) write them.
async function membershipPlans(db: Kysely<unknown>): Promise<string[]> {
  const byToken = await sql<{ detail: string }>`EXPLAIN QUERY PLAN
    SELECT tokens.*, team_members.role FROM tokens
    LEFT JOIN teams ON teams.id = tokens.team_id
    LEFT JOIN users ON users.id = tokens.user_id
    LEFT JOIN team_members ON team_members.user_id = tokens.user_id
    LEFT JOIN teams AS member_teams ON member_teams.id = team_members.team_id
    WHERE tokens.hash = ${'h'}`.execute(db);
  const roles = await sql<{ detail: string }>`EXPLAIN QUERY PLAN
    SELECT teams.id, teams.name, users.name, team_members.role FROM team_members
    INNER JOIN teams ON teams.id = team_members.team_id
    INNER JOIN users ON users.id = team_members.user_id
    WHERE team_members.user_id = ${1} ORDER BY teams.name`.execute(db);
  return [...byToken.rows, ...roles.rows].map((r) => r.detail).filter((d) => d.includes('team_members'));
}

it('0040 has the login-token and roles reads search team_members by user instead of scanning it', async () => {
  // A bare connection: the store's statement cache would keep a plan prepared before the schema changed.
  const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new BetterSqlite3(':memory:') }) });
  try {
    await migrateBefore(db, '0040');
    expect((await membershipPlans(db)).some((d) => d.startsWith('SCAN team_members'))).toBe(true);

    await migrateToLatest(db);
    expect(await membershipPlans(db)).toEqual([
      'SEARCH team_members USING INDEX team_members_user_id (user_id=?) LEFT-JOIN',
      'SEARCH team_members USING INDEX team_members_user_id (user_id=?)',
    ]);

    await m0040.down(db);
    expect((await membershipPlans(db)).some((d) => d.startsWith('SCAN team_members'))).toBe(true);
  } finally {
    await db.destroy();
  }
});

describe.skipIf(postgresSkip('0040 on PostgreSQL') !== undefined)('0040 on PostgreSQL', () => {
  const server = testPostgresOnce();
  it('creates the index on team_members (user_id)', async () => {
    const url = await (await server()).createDatabase('m0040');
    await (await openPostgresStore({ url })).close();
    const pg = await import('pg');
    const client = new pg.default.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ indexdef: string }>(
        `SELECT indexdef FROM pg_indexes WHERE tablename = 'team_members' AND indexname = 'team_members_user_id'`,
      );
      expect(rows.map((r) => r.indexdef)).toEqual([
        'CREATE INDEX team_members_user_id ON public.team_members USING btree (user_id)',
      ]);
    } finally {
      await client.end();
    }
  });
});
