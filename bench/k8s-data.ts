// (i) The Kubernetes executor's two data paths on the FAKE cluster (test/support/fake-k8s, containers
// as local processes, everything on loopback): a step that receives an input of SIZE bytes and sends
// the same bytes back as an output. Inputs MB/s is the input's size over the inputs helper's time
// (the executor's own input-transfer phase), outputs MB/s the output's size over collectOutputs;
// API requests are every request the fake API server got for the step, start to cleanup, and API MB
// what went through its exec/attach websockets. A real
// cluster's figures depend on its network and API server: these compare the two paths, nothing more.

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pack } from '../agent/artifacts/archive.js';
import { DataEndpoint } from '../agent/executors/kubernetes/data-endpoint.js';
import { KubernetesExecutor } from '../agent/executors/kubernetes/executor.js';
import { NS, settingsFor } from '../agent/executors/kubernetes/settings.test-fixtures.js';
import { startFakeKube } from '../test/support/fake-k8s/index.js';
import { MB } from './stats.js';

export interface DataPathFigures {
  inputsMbPerS: number;
  outputsMbPerS: number;
  apiRequestsPerStep: number;
  /** MB through exec/attach websockets of the API server, per step. */
  apiStreamMbPerStep: number;
  endpointRequestsPerStep: number;
}

export interface KubeDataResult {
  bytes: number;
  steps: number;
  agent: DataPathFigures;
  api: DataPathFigures;
}

const SIZE = 64 * MB;
const STEPS = 2;

export async function measureKubeData(): Promise<KubeDataResult> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-k8s-data-'));
  const fake = await startFakeKube({ namespaces: [NS], nodes: [{ name: 'bench' }] });
  const endpoint = await DataEndpoint.start({ listen: '127.0.0.1:0' });
  try {
    const src = path.join(dir, 'src');
    await mkdir(src);
    // Incompressible is irrelevant here (nothing compresses): zeros keep the setup quick.
    await writeFile(path.join(src, 'blob'), Buffer.alloc(SIZE));
    const archive = await pack(src, path.join(dir, 'src.tar'), 2 * SIZE);
    const run = async (dataPath: 'agent' | 'api'): Promise<DataPathFigures> => {
      let inputMs = 0;
      const ex = new KubernetesExecutor({
        settings: settingsFor({ dataPath }),
        agent: `bench-${dataPath}`,
        workRoot: path.join(dir, 'work'),
        kubeConfig: fake.kubeConfig(),
        dataEndpoint: endpoint,
        log: {
          info: (obj, msg) => {
            if (msg === 'step started') inputMs += (obj as { inputTransferMs?: number }).inputTransferMs ?? 0;
          },
          warn: () => undefined,
        },
      });
      await ex.admission;
      let outputMs = 0;
      const apiBefore = fake.requestsServed();
      const streamedBefore = fake.streamedBytes();
      const endpointBefore = endpoint.requests;
      for (let i = 0; i < STEPS; i++) {
        const step = await ex.start({
          leaseId: `bench-${dataPath}-${i}`,
          run: { path: 'sh', args: ['-c', 'cp src/blob out/blob'], dir: '', user: '' },
          env: {},
          inputs: [{ name: 'src', path: 'src', archive: archive.file }],
          outputs: [{ name: 'out', path: 'out' }],
          timeoutMs: 0,
          privileged: false,
        });
        for await (const _ of step.logs());
        const result = await step.wait();
        if (result.status !== 'succeeded')
          throw new Error(`${dataPath} step ${result.status}: ${result.error}`);
        const t = performance.now();
        const outs = await step.collectOutputs(dir, 2 * SIZE);
        outputMs += performance.now() - t;
        for (const o of outs) await rm(o.archive.file, { force: true });
        await step.cleanup();
      }
      return {
        inputsMbPerS: (STEPS * archive.size) / MB / (inputMs / 1000),
        outputsMbPerS: (STEPS * archive.size) / MB / (outputMs / 1000),
        apiRequestsPerStep: (fake.requestsServed() - apiBefore) / STEPS,
        apiStreamMbPerStep: (fake.streamedBytes() - streamedBefore) / MB / STEPS,
        endpointRequestsPerStep: (endpoint.requests - endpointBefore) / STEPS,
      };
    };
    return { bytes: archive.size, steps: STEPS, api: await run('api'), agent: await run('agent') };
  } finally {
    await endpoint.close();
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  }
}
