import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { FakeHub, sandbox, sendJson, TOKEN, type Sandbox } from './fake-hub.js';

let hub: FakeHub;
let sb: Sandbox;

beforeEach(async () => {
  hub = await FakeHub.start();
  hub.on('GET', '/info', (_req, res) => sendJson(res, 200, { version: '0.1.0', tokenName: 'alice' }));
  sb = await sandbox();
});
afterEach(() => hub.close());

describe('login', () => {
  it('verifies the token and saves the target (0600 file, 0700 dir)', async () => {
    const r = await sb.run([
      'login',
      '-t',
      'ci',
      '--url',
      hub.url + '/',
      '--token',
      TOKEN,
      '--team',
      'infra',
    ]);
    expect(r).toEqual({ code: 0, stdout: `logged in to ${hub.url} as alice; saved target ci\n`, stderr: '' });
    expect(parse(await sb.readConfig())).toEqual({
      targets: { ci: { url: hub.url, token: TOKEN, team: 'infra' } },
    });
    expect((await stat(sb.configPath)).mode & 0o777).toBe(0o600);
    expect((await stat(dirname(sb.configPath))).mode & 0o777).toBe(0o700);
    expect(hub.requests[0]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('keeps other targets and defaults the team to main', async () => {
    await sb.saveTarget('http://other.example');
    expect((await sb.run(['login', '--url', hub.url, '-t', 'second', '--token', TOKEN])).code).toBe(0);
    const cfg = parse(await sb.readConfig()) as { targets: Record<string, { team: string }> };
    expect(Object.keys(cfg.targets)).toEqual(['default', 'second']);
    expect(cfg.targets.second?.team).toBe('main');
  });

  it('reads the token from stdin with --token -, or from OUTPOST_TOKEN', async () => {
    const r = await sb.run(['login', '--url', hub.url, '--token', '-'], { stdin: `${TOKEN}\n` });
    expect(r.stdout).toBe(`logged in to ${hub.url} as alice; saved target default\n`);
    sb.env.OUTPOST_TOKEN = TOKEN;
    sb.env.OUTPOST_TARGET = 'from-env';
    const r2 = await sb.run(['login', '--url', hub.url]);
    expect(r2.stdout).toBe(`logged in to ${hub.url} as alice; saved target from-env\n`);
  });

  it('rejects a wrong token with a clear error and saves nothing', async () => {
    const r = await sb.run(['login', '-t', 'ci', '--url', hub.url, '--token', 'wrong']);
    expect(r).toEqual({
      code: 1,
      stdout: '',
      stderr:
        "error: login failed: the hub rejected the token (invalid or missing token); target 'ci' not saved\n",
    });
    await expect(stat(sb.configPath)).rejects.toThrow(/ENOENT/);
  });

  it('says when the hub cannot be reached, without a stack trace', async () => {
    const url = hub.url;
    await hub.close();
    hub = await FakeHub.start();
    const r = await sb.run(['login', '--url', url, '--token', TOKEN]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `error: could not reach hub at ${url}: connect ECONNREFUSED ${url.slice('http://'.length)}\n`,
    );
  });

  it('needs a token', async () => {
    const r = await sb.run(['login', '--url', hub.url]);
    expect(r).toEqual({
      code: 1,
      stdout: '',
      stderr: 'error: no token: pass --token TOKEN, --token - (read from stdin), or set OUTPOST_TOKEN\n',
    });
  });

  it('commands on an unknown target say how to log in', async () => {
    const r = await sb.run(['-t', 'nope', 'agents']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `error: unknown target 'nope' (not in ${sb.configPath}); log in first: outpost login -t nope --url URL --token TOKEN\n`,
    );
  });

  it('prints help with an example', async () => {
    const r = await sb.run(['login', '--help']);
    expect(r.code).toBe(0);
    // fly's alias is shown with the name.
    expect(r.stdout).toContain('Usage: outpost login|l [options]');
    expect(r.stdout).toContain('outpost login -t prod --url https://ci.example.com --token "$TOKEN"');
  });
});
