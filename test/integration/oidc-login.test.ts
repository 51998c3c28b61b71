// Logging in through a real OpenID Connect provider (oidc-provider on 127.0.0.1): the web flow ends at
// the UI's /login/callback with the login token in the fragment; the token carries the roles the teams'
// OIDC rules give the user's groups and name, read at each request; the user is named in /user and the
// audit log; a callback that does not belong to the browser, or comes twice, logs nobody in.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntrySummary, InfoResponse, TeamSummary, UserInfo } from '../../hub/api/types.js';
import { browseLogin } from '../support/oidc-browser.js';
import { startOidcTestHub, type OidcTestHub } from '../support/oidc-hub.js';
import type { TestHub } from '../support/harness.js';

let env: OidcTestHub;
let hub: TestHub;

beforeAll(async () => {
  env = await startOidcTestHub();
  hub = env.hub;
  env.provider.addAccount({ id: 'alice', groups: ['devs'] });
  env.provider.addAccount({ id: 'bob', groups: ['ops'] });
  env.provider.addAccount({ id: 'mallory', groups: [] });
  await expectOk(
    hub.api('PUT', '/teams/alpha', { members: [], oidc: [{ kind: 'group', name: 'devs', role: 'member' }] }),
  );
  await expectOk(
    hub.api('PUT', '/teams/beta', { members: [], oidc: [{ kind: 'user', name: 'bob', role: 'viewer' }] }),
  );
}, 60_000);
afterAll(async () => {
  await env.close();
});

async function expectOk<T>(call: Promise<{ status: number; body: T }>): Promise<T> {
  const res = await call;
  if (res.status >= 300) throw new Error(`${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

const loginUrl = (team: string, redirect = '/teams/' + team) =>
  `${hub.url}/api/v1/auth/oidc/login?team=${team}&redirect=${encodeURIComponent(redirect)}`;

/** The web flow, stopped where the hub sends the browser to the UI: the fragment's fields. */
async function webLogin(account: string, team: string): Promise<URLSearchParams> {
  const visit = await browseLogin(loginUrl(team), account, (url) => url.pathname === '/login/callback');
  expect(visit.location, `${visit.status} ${visit.text}`).toBeDefined();
  const location = new URL(visit.location!);
  expect(location.origin).toBe(hub.url);
  expect(location.search).toBe('');
  return new URLSearchParams(location.hash.slice(1));
}

async function get<T>(token: string, path: string): Promise<{ status: number; body: T }> {
  const res = await fetch(`${hub.url}/api/v1${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as T };
}

describe('OIDC login', () => {
  it('tells the login page which provider the hub offers, without a login', async () => {
    const res = await fetch(`${hub.url}/api/v1/info`);
    expect(res.status).toBe(200);
    const info = (await res.json()) as InfoResponse;
    expect(info.auth).toEqual({ local: false, oidc: { name: 'Test IdP' } });
  });

  it('sends the browser to the provider with PKCE and state, and back to the UI with a login token', async () => {
    const first = await fetch(loginUrl('alpha'), { redirect: 'manual' });
    expect(first.status).toBe(302);
    const authorize = new URL(first.headers.get('location')!);
    expect(authorize.origin).toBe(env.provider.issuer);
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('code_challenge')).toMatch(/^[\w-]{43}$/);
    expect(authorize.searchParams.get('state')).toMatch(/^[\w-]{20,}$/);
    expect(authorize.searchParams.get('redirect_uri')).toBe(`${hub.url}/api/v1/auth/oidc/callback`);
    expect(first.headers.get('set-cookie')).toMatch(/HttpOnly; SameSite=Lax/);

    const fields = await webLogin('alice', 'alpha');
    expect(fields.get('redirect')).toBe('/teams/alpha');
    expect(Number(fields.get('expiresAt'))).toBeGreaterThan(Date.now());
    const token = fields.get('token')!;
    const me = await get<UserInfo>(token, '/user');
    expect(me.body).toMatchObject({
      name: 'oidc:alice',
      admin: false,
      teams: [{ team: 'alpha', role: 'member' }],
    });
    // A member of alpha through the group: may read alpha, not beta (404: its names do not leak).
    expect((await get(token, '/teams/alpha/pipelines')).status).toBe(200);
    expect((await get(token, '/teams/beta/pipelines')).status).toBe(404);
  });

  it('maps a user by name, and follows a changed rule at the next request', async () => {
    const token = (await webLogin('bob', 'beta')).get('token')!;
    expect((await get<UserInfo>(token, '/user')).body.teams).toEqual([{ team: 'beta', role: 'viewer' }]);
    await expectOk(
      hub.api('PUT', '/teams/beta', { members: [], oidc: [{ kind: 'group', name: 'ops', role: 'owner' }] }),
    );
    expect((await get<UserInfo>(token, '/user')).body.teams).toEqual([{ team: 'beta', role: 'owner' }]);
    const team = await get<TeamSummary>(token, '/teams/beta');
    expect(team.body.oidc).toEqual([{ kind: 'group', name: 'ops', role: 'owner' }]);
  });

  it('refuses a user whom no rule gives a role in the team', async () => {
    const visit = await browseLogin(
      loginUrl('alpha'),
      'mallory',
      (url) => url.pathname === '/login/callback',
    );
    expect(visit.location).toBeUndefined();
    expect(visit.status).toBe(403);
    expect(visit.text).toContain('user \\"oidc:mallory\\" has no role in team \\"alpha\\"');
  });

  it('refuses a callback from another browser (no login cookie), and a state used twice', async () => {
    let callback: URL | undefined;
    await browseLogin(loginUrl('alpha'), 'alice', (url) => {
      if (url.pathname !== '/api/v1/auth/oidc/callback') return false;
      callback = url;
      return true;
    });
    // The victim's browser, sent the attacker's callback URL, has no cookie for this login.
    const replay = await fetch(callback!, { redirect: 'manual' });
    expect(replay.status).toBe(400);
    expect(await replay.text()).toContain('started in another browser');
    const again = await fetch(callback!, { redirect: 'manual' });
    expect(again.status).toBe(400);
    expect(await again.text()).toContain('unknown or expired login');
  });

  it('records logins, with the OIDC user, in the audit log', async () => {
    const entries = await expectOk(hub.api<AuditEntrySummary[]>('GET', '/audit?team=alpha'));
    const logins = entries.filter((e) => e.action === 'login');
    expect(logins.map((e) => [e.user, e.status])).toEqual(
      expect.arrayContaining([
        ['oidc:alice', 302],
        ['oidc:mallory', 403],
        ['anonymous', 400],
      ]),
    );
    expect(logins.every((e) => !e.target.includes('code='))).toBe(true);
  });
});
