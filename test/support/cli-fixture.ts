// A real hub and agent with the CLI logged in to the hub as admin (target `default`): the setup of the
// tests that drive the CLI end to end.

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
