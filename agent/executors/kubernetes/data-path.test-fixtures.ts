// What the data path tests share: the fake cluster, the agent's data endpoint on loopback (the fake's
// containers are local processes, so their helpers reach it), a scratch dir, and executors on them.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startFakeKube, type FakeKube } from '../../../test/support/fake-k8s/index.js';
import { DataEndpoint } from './data-endpoint.js';
import { KubernetesExecutor } from './executor.js';
import type { KubernetesPoolSettings } from './settings.js';
import { NS, settingsFor } from './settings.test-fixtures.js';

export interface DataFixture {
  fake: FakeKube;
  endpoint: DataEndpoint;
  dir: string;
  /** An executor of agent `agent` on the fake, with the endpoint (or `via`, the same grants elsewhere). */
  executor(agent: string, over: Partial<KubernetesPoolSettings>, via?: DataEndpoint): KubernetesExecutor;
  close(): Promise<void>;
}

export async function startDataFixture(): Promise<DataFixture> {
  const fake = await startFakeKube({ namespaces: [NS], nodes: [{ name: 'l' }] });
  const endpoint = await DataEndpoint.start({ listen: '127.0.0.1:0' });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kdata-'));
  return {
    fake,
    endpoint,
    dir,
    executor: (agent, over, via = endpoint) =>
      new KubernetesExecutor({
        settings: settingsFor(over),
        agent,
        workRoot: path.join(dir, 'work'),
        kubeConfig: fake.kubeConfig(),
        dataEndpoint: via,
      }),
    async close() {
      await endpoint.close();
      await fake.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
