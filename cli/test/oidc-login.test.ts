// `outpost login` through a real OpenID Connect provider (oidc-provider on 127.0.0.1), end to end: the
// CLI prints the hub's login URL and listens on a loopback port; a browser (an HTTP client with cookies)
// signs in at the provider; the hub sends it back to the CLI with the token. A group mapped to member of
// team alpha lets the user trigger alpha's job, and beta's pipeline is "not found" to them.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { AuditEntrySummary } from '../../hub/api/types.js';
import { readBuildEvents, type TestHub } from '../../test/support/harness.js';
import { browseLogin } from '../../test/support/oidc-browser.js';
import { startOidcTestHub, type OidcTestHub } from '../../test/support/oidc-hub.js';
import { sandbox, type Sandbox } from './fake-hub.js';

let env: OidcTestHub;
let hub: TestHub;
let sb: Sandbox;

beforeAll(async () => {
  env = await startOidcTestHub();
  hub = env.hub;
  sb = await sandbox();
  env.provider.addAccount({ id: 'alice', groups: ['devs'] });
  env.provider.addAccount({ id: 'eve', groups: ['strangers'] });
  expect(
    (await sb.run(['login', '-t', 'admin', '-c', hub.url, '--token', '-'], { stdin: hub.adminToken })).code,
  ).toBe(0);
  const set = await sb.run([
    '-t',
    'admin',
    'set-team',
    '-n',
    'alpha',
    '--oidc-group',
    'member=devs',
    '--non-interactive',
  ]);
  expect(set.stdout).toMatch(/oidc group devs\s+member/);
  expect(set.code).toBe(0);
  expect(
    (await sb.run(['-t', 'admin', 'set-team', '-n', 'beta', '--oidc-user', 'bob', '--non-interactive'])).code,
  ).toBe(0);
  for (const team of ['alpha', 'beta']) {
    const res = await hub.api('PUT', `/teams/${team}/pipelines/${team}-pipe/config`, {
      source: 'jobs: [{name: hello, plan: []}]',
    });
    expect(res.status).toBe(200);
  }
}, 60_000);
afterAll(async () => {
  await env.close();
});

/** Runs `outpost login` for OIDC, and plays the user's browser on the URL it prints. */
async function cliLogin(account: string, team: string) {
  let browsed: Promise<unknown> | undefined;
  const run = sb.run(['login', '-t', account, '-c', hub.url, '-n', team], {
    onStdout: (text) => {
      const url = /https?:\/\/\S+\/auth\/oidc\/login\S*/.exec(text)?.[0];
      if (url) browsed = browseLogin(url, account);
    },
  });
  const result = await run;
  return { ...result, browser: await browsed };
}

describe('outpost login through OIDC', () => {
  it('logs in through the browser flow; the group makes the user a member of alpha only', async () => {
    const login = await cliLogin('alice', 'alpha');
    expect(login.stderr).toBe('');
    expect(login.stdout).toContain('navigate to the following URL in your browser:');
    expect(login.stdout).toContain('logged in to');
    expect(login.stdout).toContain('as oidc:alice through Test IdP (team alpha, member); saved target alice');
    expect(login.code).toBe(0);
    expect(login.browser).toMatchObject({ status: 200, text: 'login successful: return to your terminal\n' });
    const saved = (
      parse(await sb.readConfig()) as { targets: Record<string, { token: string; expires_at?: number }> }
    ).targets.alice!;
    expect(saved.token).toMatch(/^opu_/);
    expect(saved.expires_at).toBeGreaterThan(Date.now());

    expect((await sb.run(['-t', 'alice', 'userinfo'])).stdout).toMatch(
      /name: oidc:alice\n[\s\S]*alpha\s+member/,
    );
    await sb.run(['-t', 'alice', 'unpause-pipeline', '-p', 'alpha-pipe']);
    const trigger = await sb.run(['-t', 'alice', 'trigger-job', '-j', 'alpha-pipe/hello']);
    expect(trigger.stderr).toBe('');
    expect(trigger.stdout).toMatch(/started alpha-pipe\/hello #1/);
    const build = (await hub.api<{ id: number }[]>('GET', '/builds?team=alpha')).body[0]!;
    await readBuildEvents(hub, build.id);

    await sb.run(['-t', 'alice', 'edit-target', '-n', 'beta']);
    const other = await sb.run(['-t', 'alice', 'get-pipeline', '-p', 'beta-pipe']);
    expect(other.code).not.toBe(0);
    expect(other.stderr).toContain('not found');
    const raw = await fetch(`${hub.url}/api/v1/teams/beta/pipelines/beta-pipe/jobs`, {
      headers: { authorization: `Bearer ${saved.token}` },
    });
    expect(raw.status).toBe(404);
  });

  it('tells the CLI why the hub refused the login, and saves nothing', async () => {
    const login = await cliLogin('eve', 'alpha');
    expect(login.code).toBe(1);
    expect(login.stderr).toContain('login failed: user "oidc:eve" has no role in team "alpha"');
    expect(await sb.readConfig()).not.toContain('eve:');
  });

  it('records who logged in and triggered, for the admin to read with `outpost audit`', async () => {
    const audit = await sb.run(['-t', 'admin', 'audit', '--team', 'alpha', '--json']);
    const entries = JSON.parse(audit.stdout) as AuditEntrySummary[];
    const seen = entries.map((e) => `${e.user} ${e.action} ${e.status}`);
    expect(seen).toEqual(
      expect.arrayContaining(['oidc:alice login 302', 'oidc:alice trigger-job 201', 'oidc:eve login 403']),
    );
    const table = await sb.run(['-t', 'admin', 'audit', '--user', 'oidc:alice', '--since', '1h']);
    expect(table.stdout).toMatch(
      /oidc:alice\s+alpha\s+trigger-job\s+\/api\/v1\/teams\/alpha\/pipelines\/alpha-pipe\/jobs\/hello\/builds\s+127\.0\.0\.1\s+201/,
    );
    const bad = await sb.run(['-t', 'admin', 'audit', '--since', 'yesterday']);
    expect(bad.stderr).toContain("invalid --since 'yesterday'");
  });
});
