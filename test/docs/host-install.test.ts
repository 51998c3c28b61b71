// docs/host-install.md stays true to the code: its agent config parses as the agent parses it, and the
// service definitions give the agent's drain the time the config allows and keep its step supervisors
// alive across a restart.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../../agent/config.js';

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
  file: '/etc/outpost/agent.yaml',
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
    expect(agentConfig.hub.tls.caFile).toBe('/etc/outpost/ca.pem');
    expect(agentConfig.tokenFile).toBe('/etc/outpost/agent-token');
    expect(agentConfig.pools.map((p) => p.executor)).toEqual(['process']);
  });

  it('stops the agent under systemd with a drain and without killing its steps', () => {
    const unit = block('/etc/systemd/system/outpost-agent.service', 'ini');
    expect(setting(unit, 'KillMode')).toBe('process');
    expect(Number(setting(unit, 'TimeoutStopSec'))).toBeGreaterThan(agentConfig.drainTimeoutSeconds + 5);
    expect(setting(unit, 'ExecStart')).toBe('/usr/local/bin/outpost-agent --config /etc/outpost/agent.yaml');
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
});
