// A real hub and agent with the CLI logged in to the hub as admin (target `default`): the setup of the
// tests that drive the CLI end to end.

import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';
import { sandbox, type Sandbox } from '../../cli/test/fake-hub.js';
import { startTestAgent, startTestHub, type TestAgentOptions, type TestHub } from './harness.js';

type TestAgent = Awaited<ReturnType<typeof startTestAgent>>;

export interface CliFixture {
  hub: TestHub;
  agent: TestAgent;
  cli: Sandbox;
  /** The login's output (tests check what it says). */
  login: Awaited<ReturnType<Sandbox['run']>>;
  close(): Promise<void>;
}

/** `agent`: the agent's options (its pools, say); default one process pool. */
export async function startCliFixture(agentOptions: TestAgentOptions = {}): Promise<CliFixture> {
  const hub = await startTestHub();
  const agent = await startTestAgent(hub, agentOptions);
  await agent.welcomed;
  const cli = await sandbox();
  const login = await cli.run(['login', '--url', hub.url, '--token', hub.adminToken]);
  return {
    hub,
    agent,
    cli,
    login,
    async close() {
      await agent.stop();
      await hub.close();
    },
  };
}

/**
 * `set-pipeline -n` of YAML text (with more of its flags), then `unpause-pipeline`: of the instance when
 * `-i key=value` flags name one. Fails the test when either command does.
 */
export async function setPipelineByCli(
  cli: Sandbox,
  name: string,
  yaml: string,
  flags: string[] = [],
): Promise<void> {
  const file = path.join(cli.dir, `${name}.yml`);
  await writeFile(file, yaml);
  const set = await cli.run(['set-pipeline', '-p', name, '-c', file, '-n', ...flags]);
  expect(set.code, set.stderr).toBe(0);
  const instanceVars = flags.flatMap((f, i) => (flags[i - 1] === '-i' ? [f.replace('=', ':')] : []));
  const pipeline = instanceVars.length > 0 ? `${name}/${instanceVars.join(',')}` : name;
  const unpaused = await cli.run(['unpause-pipeline', '-p', pipeline]);
  expect(unpaused.code, unpaused.stderr).toBe(0);
}
