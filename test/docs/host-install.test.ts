// docs/host-install.md stays true to the code: its agent config parses as the agent parses it, and the
// service definitions give the agent's drain the time the config allows and keep its step supervisors
// alive across a restart; systemd itself accepts the units (systemd-analyze verify, where installed).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../../agent/config.js';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');
const doc = readFileSync(path.resolve(import.meta.dirname, '../../docs/host-install.md'), 'utf8');

/** The body of the fenced block of `lang` that follows `after` in the page. */
function block(after: string, lang: string): string {
  const at = doc.indexOf(after);
  expect(at, `docs/host-install.md has no "${after}"`).toBeGreaterThanOrEqual(0);
  const body = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(doc.slice(at))?.[1];
  if (body === undefined) throw new Error(`no \`\`\`${lang} block after "${after}"`);
  return body;
}

const agentConfig = parseAgentConfig(block('<!-- file: agent.yaml -->', 'yaml'), {
  file: '/etc/outpost-agent/agent.yaml',
  env: {},
  hostname: 'build-1',
  cpus: 2,
  platform: 'linux',
  tmpdir: '/tmp',
});

/** A `Key=value` setting of a systemd unit (the last one wins, as in systemd). */
function setting(unit: string, key: string): string | undefined {
  return [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].at(-1)?.[1];
}

describe('docs/host-install.md', () => {
  it('has an agent config the agent accepts, trusting the hub through ca_file', () => {
    expect(agentConfig.hub.tls.caFile).toBe('/etc/outpost-agent/ca.pem');
    expect(agentConfig.tokenFile).toBe('/etc/outpost-agent/agent-token');
    expect(agentConfig.pools.map((p) => p.executor)).toEqual(['process']);
  });

  it('stops the agent under systemd with a drain and without killing its steps', () => {
    const unit = block('/etc/systemd/system/outpost-agent.service', 'ini');
    expect(setting(unit, 'KillMode')).toBe('process');
    expect(Number(setting(unit, 'TimeoutStopSec'))).toBeGreaterThan(agentConfig.drainTimeoutSeconds + 5);
    expect(setting(unit, 'ExecStart')).toBe(
      '/usr/local/bin/outpost-agent --config /etc/outpost-agent/agent.yaml',
    );
  });

  it('gives the hub under systemd longer than its drain timeout (30s) to stop', () => {
    const unit = block('/etc/systemd/system/outpost-hub.service', 'ini');
    expect(Number(setting(unit, 'TimeoutStopSec'))).toBeGreaterThan(30);
  });

  it('gives the Mac agent under launchd the drain time, and restarts it', () => {
    const plist = block('/Library/LaunchDaemons/dev.outpost.agent.plist', 'xml');
    const exitTimeout = /<key>ExitTimeOut<\/key><integer>(\d+)<\/integer>/.exec(plist)?.[1];
    expect(Number(exitTimeout)).toBeGreaterThan(agentConfig.drainTimeoutSeconds + 5);
    expect(plist).toMatch(/<key>KeepAlive<\/key><true\/>/);
  });

  it('starts the hub with flags the hub has', { timeout: 60_000 }, async () => {
    const unit = block('/etc/systemd/system/outpost-hub.service', 'ini');
    const execStart = unit.replace(/\\\n\s*/g, '').match(/^ExecStart=(.*)$/m)?.[1] ?? '';
    const flags = execStart.match(/--[a-z-]+/g) ?? [];
    expect(flags).toEqual(expect.arrayContaining(['--encryption-key-file', '--tls-cert', '--tls-key']));
    const { stdout: help } = await run(process.execPath, ['--import', 'tsx', 'hub/main.ts', '--help'], {
      cwd: ROOT,
    });
    for (const flag of flags) expect(help, `outpost-hub --help has no ${flag}`).toContain(`${flag} `);
  });

  it('has systemd units that systemd-analyze verify accepts', { timeout: 60_000 }, async (ctx) => {
    const analyze = await run('systemd-analyze', ['--version']).catch(() => undefined);
    if (analyze === undefined) {
      console.log('skipped: no systemd-analyze on this machine (apt-get install systemd)');
      return ctx.skip('no systemd-analyze');
    }
    const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-units-'));
    try {
      const units = ['outpost-hub.service', 'outpost-agent.service'];
      for (const unit of units) {
        // The commands are where npm installs them; verify checks that ExecStart's file exists.
        const text = block(`/etc/systemd/system/${unit}`, 'ini').replace(
          /\/usr\/local\/bin\/outpost-(hub|agent)/g,
          process.execPath,
        );
        await writeFile(path.join(dir, unit), text);
      }
      const { stderr } = await run('systemd-analyze', ['verify', ...units], { cwd: dir });
      expect(stderr.trim()).toBe('');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
