// Secrets at rest (issue 15): with --encryption-key, a pipeline's secrets (a var source's values, a
// webhook token, the step spec that carries the resolved env) are nowhere in the raw bytes of the
// hub's database files, nor in the hub's or the agent's logs; the key rotates with --old-encryption-key.

import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { expect, it } from 'vitest';
import type { HubOptions } from '../../hub/hub.js';
import { cleanupAfterEach } from '../support/cleanups.js';
import {
  capturingLogger,
  finalStatus,
  logText,
  readBuildEvents,
  restartTestHub,
  setPipeline,
  startTestAgent,
  startTestHub,
  triggerJob,
  type TestHub,
} from '../support/harness.js';

const defer = cleanupAfterEach();

const SECRET = 'var-source-secret-7f3a9c';
const WEBHOOK = 'webhook-token-secret-2b8e41';
const KEY = Buffer.from('k'.repeat(32));
const NEW_KEY = Buffer.from('n'.repeat(32));

const PIPELINE = `var_sources:
- name: vault
  type: dummy
  config:
    vars: { token: ${SECRET} }
resources:
- name: r
  type: mock
  webhook_token: ${WEBHOOK}
  source: {}
jobs:
- name: job
  plan:
  - task: use
    config:
      platform: linux
      params: { TOKEN: ((vault:token)) }
      run: { path: sh, args: [-c, 'echo "token=$TOKEN"'] }
`;

/** Every byte the hub keeps in its data directory (the database and its WAL), as one string. */
async function dataDirBytes(hub: TestHub): Promise<string> {
  const files = await readdir(hub.dir);
  const contents = await Promise.all(
    files.map((f) => readFile(path.join(hub.dir, f)).catch(() => Buffer.alloc(0))),
  );
  return Buffer.concat(contents).toString('latin1');
}

async function runBuild(encryption: HubOptions['encryption']) {
  const hubLog = capturingLogger();
  const agentLog = capturingLogger();
  const hub = await startTestHub(encryption ? { encryption } : {}, hubLog.log);
  defer(() => hub.close());
  const agent = await startTestAgent(hub, { log: agentLog.log });
  defer(() => agent.stop());
  await setPipeline(hub, 'p', PIPELINE);
  const events = await readBuildEvents(hub, await triggerJob(hub, 'p', 'job'));
  expect(finalStatus(events)).toBe('succeeded');
  expect(logText(events)).toBe('token=((redacted))\n');
  await agent.stop();
  await hub.stop();
  const logs = JSON.stringify([hubLog.lines, agentLog.lines]);
  return { hub, bytes: await dataDirBytes(hub), logs };
}

it('keeps secrets out of the database files and the logs under --encryption-key', async () => {
  const { bytes, logs } = await runBuild({ key: KEY });
  expect(bytes.length).toBeGreaterThan(0);
  for (const secret of [SECRET, WEBHOOK]) {
    expect(bytes.includes(secret), `${secret} in the database files`).toBe(false);
    expect(logs.includes(secret), `${secret} in the logs`).toBe(false);
  }
  console.log(`secrets at rest: database bytes=${bytes.length} secrets found=0`);

  // The control: without a key the same build leaves them in the database in clear (and the hub says so).
  const clear = await runBuild(undefined);
  expect(clear.bytes.includes(SECRET)).toBe(true);
  expect(clear.logs).toContain('no --encryption-key');
  expect(clear.logs.includes(SECRET)).toBe(false);
});

it('rotates the key with --old-encryption-key and refuses to start without one', async () => {
  const hub = await startTestHub({ encryption: { key: KEY } });
  defer(() => hub.close());
  await setPipeline(hub, 'p', PIPELINE);
  await hub.stop();

  await expect(
    restartTestHub({ ...hub, options: { ...hub.options, encryption: undefined } }),
  ).rejects.toThrow(
    'the database holds secrets encrypted with an --encryption-key; start the hub with that key',
  );
  const rotated = await restartTestHub({
    ...hub,
    options: { ...hub.options, encryption: { key: NEW_KEY, oldKey: KEY } },
  });
  await rotated.stop();
  // Everything was re-encrypted at that start: the new key alone reads the pipeline back.
  const after = await restartTestHub({ ...hub, options: { ...hub.options, encryption: { key: NEW_KEY } } });
  defer(() => after.stop());
  const config = await after.api<{ config: unknown }>('GET', '/teams/main/pipelines/p/config');
  expect(config.status).toBe(200);
  expect(JSON.stringify(config.body)).toContain(SECRET);
  await after.stop();
  await expect(
    restartTestHub({ ...hub, options: { ...hub.options, encryption: { key: KEY } } }),
  ).rejects.toThrow('encrypted under another key');
});
