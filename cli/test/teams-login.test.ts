// Teams, users, logins and API tokens through the CLI against a real hub: an admin creates a user and a
// team, the user logs in with a password, the CLI renews the short-lived token, and the user manages
// the team's API tokens.

import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startTestHub, type TestHub } from '../../test/support/harness.js';
import { runCli } from '../main.js';
import { sandbox, type Sandbox } from './fake-hub.js';

let hub: TestHub;
let sb: Sandbox;
const PASSWORD = 'alice-long-password';

interface SavedTarget {
  token: string;
  team: string;
  expires_at?: number;
}
const saved = async (name: string) =>
  (parse(await sb.readConfig()) as { targets: Record<string, SavedTarget> }).targets[name]!;

beforeAll(async () => {
  hub = await startTestHub();
  sb = await sandbox();
  const r = await sb.run(['login', '-t', 'admin', '-c', hub.url, '--token', '-'], { stdin: hub.adminToken });
  expect(r.code).toBe(0);
}, 60_000);
afterAll(() => hub.close());

describe('teams and logins', () => {
  it('creates a user and a team only after confirmation, and lists them for the admin', async () => {
    expect(
      (await sb.run(['-t', 'admin', 'set-user', '-u', 'alice'], { stdin: `${PASSWORD}\n` })).stdout,
    ).toBe('user alice set\n');
    const refused = await sb.run(['-t', 'admin', 'set-team', '-n', 'alpha', '--local-user', 'alice'], {
      stdin: 'n\n',
    });
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain('bailing out');
    expect((await sb.run(['-t', 'admin', 'teams'])).stdout).not.toContain('alpha');
    const set = await sb.run(['-t', 'admin', 'set-team', '-n', 'alpha', '--local-user', 'alice'], {
      stdin: 'y\n',
    });
    expect(set.stdout).toContain('team created');
    expect((await sb.run(['-t', 'admin', 'users'])).stdout).toMatch(/alice\s+alpha:owner/);
  });

  it('logs a user in with a password; the user sees only its team', async () => {
    const wrong = await sb.run([
      'login',
      '-t',
      'a',
      '-c',
      hub.url,
      '-n',
      'alpha',
      '-u',
      'alice',
      '-p',
      'nope',
    ]);
    expect(wrong).toMatchObject({ code: 1 });
    expect(wrong.stderr).toContain('wrong username or password');
    const r = await sb.run(['login', '-t', 'a', '-c', hub.url, '-n', 'alpha', '-u', 'alice', '-p', '-'], {
      stdin: PASSWORD,
    });
    expect(r.stdout).toBe(`logged in to ${hub.url} as alice (team alpha, owner); saved target a\n`);
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
    expect((await saved('a')).expires_at).toBeGreaterThan(Date.now());
    expect((await sb.run(['-t', 'a', 'userinfo'])).stdout).toMatch(/name: alice\n[\s\S]*alpha\s+owner/);
    expect((await sb.run(['-t', 'a', 'teams'])).stdout).not.toContain('main');
    const denied = await sb.run([
      '-t',
      'a',
      'set-team',
      '-n',
      'beta',
      '--local-user',
      'alice',
      '--non-interactive',
    ]);
    expect(denied.stderr).toContain('only admins');
  });

  it('reads a left-out password from stdin off a terminal, and asks for it without echo on one', async () => {
    const args = (target: string) => ['login', '-t', target, '-c', hub.url, '-n', 'alpha', '-u', 'alice'];
    // As a script does: `echo "$PW" | outpost login -u alice`.
    const piped = await sb.run(args('piped'), { stdin: `${PASSWORD}\nnext line\n` });
    expect(piped).toMatchObject({ code: 0, stderr: '' });
    expect(piped.stdout).toContain('as alice (team alpha, owner); saved target piped');
    expect(piped.stdout).not.toContain(PASSWORD);
    const none = await sb.run(args('none'), { stdin: '' });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('no password');

    // On a terminal: a prompt, the keys typed (a typo erased) read in raw mode, nothing echoed.
    let stdout = '';
    let stderr = '';
    const modes: boolean[] = [];
    const code = await runCli(args('typed'), {
      stdout: { write: (s) => (stdout += String(s)) },
      stderr: { write: (s) => (stderr += String(s)) },
      stdin: Readable.from([PASSWORD.slice(0, -1), 'x', '\u007f', `${PASSWORD.slice(-1)}\r`]),
      env: sb.env,
      isTTY: true,
      terminal: { setRawMode: (on) => modes.push(on), size: () => ({ rows: 24, cols: 80 }) },
    });
    expect({ code, stderr }).toEqual({ code: 0, stderr: 'password: \n' });
    expect(stdout).toContain('as alice (team alpha, owner); saved target typed');
    expect(modes).toEqual([true, false]);
  });

  it('renews a login token near its expiry, and refuses an expired one', async () => {
    const before = await saved('a');
    const r = await sb.run(['-t', 'a', 'status'], { now: before.expires_at! - 10 * 60_000 });
    expect(r.stdout).toMatch(/^logged in as alice; the token valid until /);
    const after = await saved('a');
    expect(after.token).not.toBe(before.token);
    expect(after.expires_at).toBeGreaterThanOrEqual(before.expires_at!);
    // The old token was revoked by the renewal.
    const old = await fetch(`${hub.url}/api/v1/user`, {
      headers: { authorization: `Bearer ${before.token}` },
    });
    expect(old.status).toBe(401);
    const expired = await sb.run(['-t', 'a', 'teams'], { now: after.expires_at! + 1 });
    expect(expired.stderr).toContain("your login to target 'a' expired; log in again: outpost login -t a");
  });

  it('tells the holder of an expired token that it expired, and nobody else', async () => {
    const alice = await hub.store.users.get('alice');
    const { secret } = await hub.tokens.create('api', 'alice-login', null, {
      userId: alice!.id,
      expiresAt: Date.now() - 1_000,
    });
    // The hub judges the expiry: the target does not say when the token expires (or the CLI's clock is
    // behind the hub's), so the CLI sends it.
    const own = await sandbox();
    await own.saveTarget(hub.url, { token: secret });
    const expired = await own.run(['teams']);
    expect(expired.code).toBe(1);
    expect(expired.stderr).toMatch(
      /^error: api token "alice-login" expired at \S+; log in again \(outpost login\)\n/,
    );
    expect(expired.stderr).toContain(
      "the token of target 'default' expired; log in again: outpost login -t default --url URL -u USER",
    );
    // A wrong secret with the same look, or garbage, learns nothing of that token.
    for (const other of [`${secret.slice(0, -4)}AAAA`, 'garbage']) {
      await own.saveTarget(hub.url, { token: other });
      const refused = await own.run(['teams']);
      expect(refused.stderr).toContain('missing, unknown or revoked API token');
      expect(refused.stderr).not.toContain('expired');
    }
  });

  it('creates, lists and revokes a team API token as the team owner', async () => {
    const created = await sb.run([
      '-t',
      'a',
      'api-tokens',
      'create',
      '--name',
      'bot',
      '--role',
      'viewer',
      '--expires',
      '1d',
    ]);
    const secret = /\n(opu_\S+)\n$/.exec(created.stdout)?.[1];
    expect(secret).toBeDefined();
    const asBot = await fetch(`${hub.url}/api/v1/teams/alpha/pipelines`, {
      headers: { authorization: `Bearer ${secret}` },
    });
    expect(asBot.status).toBe(200);
    const list = await sb.run(['-t', 'a', 'api-tokens', 'list']);
    expect(list.stdout).toMatch(/bot\s+viewer/);
    const id = /^(\d+)\s+bot/m.exec(list.stdout)?.[1];
    expect((await sb.run(['-t', 'a', 'api-tokens', 'revoke', id!])).code).toBe(0);
    const revoked = await fetch(`${hub.url}/api/v1/teams/alpha/pipelines`, {
      headers: { authorization: `Bearer ${secret}` },
    });
    expect(revoked.status).toBe(401);
  });

  it('logs out, lists and edits targets, and destroys a team after its name is typed', async () => {
    expect((await sb.run(['-t', 'a', 'logout'])).stdout).toBe('logged out of target a\n');
    expect((await sb.run(['-t', 'a', 'teams'])).stderr).toContain("logged out of target 'a'");
    expect((await sb.run(['targets'])).stdout).toMatch(/a\s+http\S+\s+alpha\s+logged out/);
    expect((await sb.run(['-t', 'a', 'edit-target', '-n', 'main'])).code).toBe(0);
    expect((await saved('a')).team).toBe('main');
    expect((await sb.run(['-t', 'a', 'delete-target'])).stdout).toBe('deleted target a\n');
    const wrongName = await sb.run(['-t', 'admin', 'destroy-team', '-n', 'alpha'], { stdin: 'alpah\n' });
    expect(wrongName.code).toBe(1);
    const destroyed = await sb.run(['-t', 'admin', 'destroy-team', '-n', 'alpha'], { stdin: 'alpha\n' });
    expect(destroyed.stdout).toContain('`alpha` deleted');
    expect((await sb.run(['-t', 'admin', 'teams'])).stdout).not.toContain('alpha');
  });

  it("shows a team's roles as fly's get-team does, and renames a team", async () => {
    const set = await sb.run([
      '-t',
      'admin',
      'set-team',
      '-n',
      'gamma',
      '--local-user',
      'alice',
      '--oidc-user',
      'member=carol',
      '--oidc-group',
      'member=devs',
      '--oidc-group',
      'viewer=qa',
      '--non-interactive',
    ]);
    expect(set.code, set.stderr).toBe(0);
    const shown = await sb.run(['-t', 'admin', '--print-table-headers', 'get-team', '-n', 'gamma']);
    expect(shown.code).toBe(0);
    expect(shown.stdout.split('\n').map((l) => l.split(/\s{2,}/))).toEqual([
      ['name/role', 'users', 'groups'],
      ['gamma/owner', 'local:alice', 'none'],
      ['gamma/member', 'oidc:carol', 'oidc:devs'],
      ['gamma/viewer', 'none', 'oidc:qa'],
      [''],
    ]);
    const json = JSON.parse((await sb.run(['-t', 'admin', 'gt', '-n', 'gamma', '--json'])).stdout) as {
      name: string;
    };
    expect(json.name).toBe('gamma');

    expect(await sb.run(['-t', 'admin', 'rename-team', '-o', 'gamma', '-n', 'delta'])).toEqual({
      code: 0,
      stdout: 'Team successfully renamed to delta\n',
      stderr: '',
    });
    expect((await sb.run(['-t', 'admin', 'teams'])).stdout).toMatch(/^delta$/m);
    expect(await sb.run(['-t', 'admin', 'rt', '-o', 'gamma', '-n', 'epsilon'])).toEqual({
      code: 1,
      stdout: '',
      stderr: "error: Team 'gamma' not found\n",
    });
  });
});
