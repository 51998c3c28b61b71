// Least secret (issue 15): a step is given only the secrets its own config references, in its env and
// in the redaction list the agent gets, never every secret its build resolved.

import { expect, it } from 'vitest';
import { StepStatus } from '../../proto/gen/outpost/v1/agent.js';
import { cleanupAfterEach } from '../support/cleanups.js';
import { finalStatus, readBuildEvents, setPipeline, startTestHub, triggerJob } from '../support/harness.js';
import { rawAgent } from '../support/raw-agent.js';

const defer = cleanupAfterEach();

const PIPELINE = `var_sources:
- name: vault
  type: dummy
  config:
    vars: { deploy-key: first-secret-value, db-password: second-secret-value }
jobs:
- name: job
  plan:
  - task: deploy
    config:
      platform: linux
      params: { KEY: ((vault:deploy-key)) }
      run: { path: sh, args: [-c, 'true'] }
  - task: migrate
    config:
      platform: linux
      params: { PASSWORD: ((vault:db-password)) }
      run: { path: sh, args: [-c, 'true'] }
  - task: lint
    config:
      platform: linux
      run: { path: sh, args: [-c, 'true'] }
`;

it('gives each step only the secrets its own config references', async () => {
  const hub = await startTestHub();
  defer(() => hub.close());
  const agent = rawAgent(hub.grpcAddress, await hub.newAgentToken('only'), { agentName: 'only' });
  defer(() => agent.close());
  await agent.next('welcome');
  await setPipeline(hub, 'p', PIPELINE);
  const buildId = await triggerJob(hub, 'p', 'job');

  const given: Record<string, { env: string[]; redact: string[] }> = {};
  for (let step = 0; step < 3; step++) {
    const assign = await agent.next('assign', (a) => !Object.hasOwn(given, a.context?.stepName ?? ''));
    given[assign.context?.stepName ?? ''] = {
      env: (assign.spec?.env ?? []).map((e) => `${e.name}=${e.value}`).filter((e) => e.includes('secret')),
      redact: assign.spec?.redact ?? [],
    };
    const { leaseId } = assign;
    agent.send({ msg: { $case: 'accepted', value: { leaseId } } });
    const finished = { leaseId, status: StepStatus.STEP_STATUS_SUCCEEDED, atUnixMs: 0, exitStatus: 0 };
    agent.send({
      msg: {
        $case: 'finished',
        value: { ...finished, error: '', lastLogSeq: 0, outputs: [], resourceResultJson: '' },
      },
    });
  }
  expect(given).toEqual({
    deploy: { env: ['KEY=first-secret-value'], redact: ['first-secret-value'] },
    migrate: { env: ['PASSWORD=second-secret-value'], redact: ['second-secret-value'] },
    lint: { env: [], redact: [] },
  });
  expect(finalStatus(await readBuildEvents(hub, buildId))).toBe('succeeded');
});
