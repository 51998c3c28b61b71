// A password login without a team, as the web UI's sign-in sends it (Concourse asks for no team either):
// the hub binds the token to `main` when the user has a role there, else to the first of their teams,
// and the token reaches every team of theirs. With a team, nothing changed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/harness.js';

const PASSWORD = 'a long enough password';
let hub: TestHub;

interface Answer {
  token?: string;
  teams?: unknown;
  error?: { message: string };
}

async function login(body: Record<string, string>): Promise<{ status: number; body: Answer }> {
  const res = await fetch(`${hub.url}/api/v1/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ password: PASSWORD, ...body }),
  });
  return { status: res.status, body: (await res.json()) as Answer };
}

beforeAll(async () => {
  hub = await startTestHub();
  for (const [method, route, body] of [
    ['PUT', '/users/ann', { password: PASSWORD }],
    ['PUT', '/users/bob', { password: PASSWORD }],
    ['PUT', '/users/eve', { password: PASSWORD }],
    ['PUT', '/teams/main', { members: [{ user: 'ann', role: 'member' }] }],
    ['PUT', '/teams/zeta', { members: [{ user: 'bob', role: 'viewer' }] }],
    ['PUT', '/teams/alpha', { members: [{ user: 'bob', role: 'owner' }] }],
  ] as const) {
    const res = await hub.api(method, route, body);
    if (res.status >= 300) throw new Error(`${method} ${route}: ${JSON.stringify(res.body)}`);
  }
});
afterAll(() => hub.close());

describe('a password login without a team', () => {
  it('signs a user of main in to main', async () => {
    const res = await login({ username: 'ann' });
    expect(res.status).toBe(200);
    expect(res.body.teams).toEqual([{ team: 'main', role: 'member' }]);
  });

  it("signs a user without a role in main in, and the token reaches each of the user's teams", async () => {
    const res = await login({ username: 'bob' });
    expect(res.status).toBe(200);
    const auth = { authorization: `Bearer ${res.body.token ?? ''}` };
    for (const team of ['alpha', 'zeta']) {
      const pipelines = await fetch(`${hub.url}/api/v1/teams/${team}/pipelines`, { headers: auth });
      expect(pipelines.status, team).toBe(200);
    }
    const main = await fetch(`${hub.url}/api/v1/teams/main/pipelines`, { headers: auth });
    expect(main.status).toBe(404);
  });

  it('refuses a user who holds no role in any team, naming why', async () => {
    const res = await login({ username: 'eve' });
    expect(res.status).toBe(403);
    expect(res.body.error?.message).toBe('user "eve" has no role in any team');
  });

  it('still refuses a named team the user has no role in', async () => {
    const res = await login({ username: 'bob', team: 'main' });
    expect(res.status).toBe(403);
    expect(res.body.error?.message).toBe('user "bob" has no role in team "main"');
  });

  it('still refuses a wrong password the same way with or without a team', async () => {
    expect((await login({ username: 'bob', password: 'not the password' })).status).toBe(401);
    expect((await login({ username: 'bob', password: 'not the password', team: 'alpha' })).status).toBe(401);
  });
});
