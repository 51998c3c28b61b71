// Outputs flow between steps through the hub's artifact store, also across agents and platforms.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectGarbage } from '../../hub/artifacts/gc.js';
import {
  finalStatus,
  logText,
  readBuildEvents,
  setPipeline,
  startTestAgent,
  startTestHub,
  triggerJob,
  type TestHub,
} from '../support/harness.js';

let hub: TestHub;
const agents: Awaited<ReturnType<typeof startTestAgent>>[] = [];

beforeAll(async () => {
  hub = await startTestHub({ maxArtifactBytes: 256 * 1024 });
  agents.push(
    await startTestAgent(hub, {
      name: 'agent-a',
      pools: '  - name: lin\n    platform: linux\n    capacity: 2',
    }),
  );
  agents.push(
    await startTestAgent(hub, {
      name: 'agent-b',
      hostPlatform: 'darwin',
      pools: '  - name: mac\n    platform: darwin\n    capacity: 2',
    }),
  );
  await Promise.all(agents.map((a) => a.welcomed));
});

afterAll(async () => {
  for (const agent of agents) await agent.stop();
  await hub.close();
});

const task = (name: string, platform: string, script: string, io: string) => `  - task: ${name}
    config:
      platform: ${platform}
${io}      run: { path: sh, args: ['-c', ${JSON.stringify(script)}] }
`;

describe('artifacts between steps', () => {
  it('passes outputs from a linux agent to a darwin agent and back', async () => {
    await setPipeline(
      hub,
      'relay',
      `jobs:
- name: job
  plan:
${task('one', 'linux', 'echo from-a > out/file; mkdir -p out/sub; echo nested > out/sub/n', '      outputs: [{ name: out }]\n')}${task(
        'two',
        'darwin',
        'cat in/file in/sub/n; cp -r in/. out/; echo from-b >> out/file',
        '      inputs: [{ name: out, path: in }]\n      outputs: [{ name: out }]\n',
      )}${task('three', 'linux', 'cat out/file', '      inputs: [{ name: out }]\n')}`,
    );
    const events = await readBuildEvents(hub, await triggerJob(hub, 'relay', 'job'));
    expect(events.filter((e) => e.event === 'selected-worker').map((e) => e.data.selected_worker)).toEqual([
      'test/agent-a',
      'test/agent-b',
      'test/agent-a',
    ]);
    expect(logText(events)).toBe('from-a\nnested\nfrom-a\nfrom-b\n');
    expect(finalStatus(events)).toBe('succeeded');
  });

  it('honours input_mapping and output_mapping, and "." paths', async () => {
    await setPipeline(
      hub,
      'mapped',
      `jobs:
- name: job
  plan:
  - task: make
    output_mapping: { result: built }
    config:
      platform: linux
      outputs: [{ name: result, path: . }]
      run: { path: sh, args: ['-c', 'echo made > artifact.txt'] }
  - task: use
    input_mapping: { src: built }
    config:
      platform: linux
      inputs: [{ name: src }]
      run: { path: cat, args: [src/artifact.txt] }
`,
    );
    const events = await readBuildEvents(hub, await triggerJob(hub, 'mapped', 'job'));
    expect(logText(events)).toBe('made\n');
    expect(finalStatus(events)).toBe('succeeded');
  });

  it('errors a step whose required input no step produced, before dispatching it', async () => {
    await setPipeline(
      hub,
      'missing',
      `jobs:
- name: job
  plan:
${task('needs', 'linux', 'true', '      inputs: [{ name: nowhere }, { name: maybe, optional: true }]\n')}`,
    );
    const events = await readBuildEvents(hub, await triggerJob(hub, 'missing', 'job'));
    expect(events.find((e) => e.event === 'error')?.data.message).toBe('missing inputs: nowhere');
    expect(events.some((e) => e.event === 'selected-worker')).toBe(false);
    expect(finalStatus(events)).toBe('errored');
  });

  it('deletes builds past their retention, and then the artifacts no build references', async () => {
    await setPipeline(
      hub,
      'retained',
      `jobs:
- name: job
  build_logs_to_retain: 1
  plan:
${task('make', 'linux', 'date +%s%N > out/stamp', '      outputs: [{ name: out }]\n')}`,
    );
    const first = await triggerJob(hub, 'retained', 'job');
    expect(finalStatus(await readBuildEvents(hub, first))).toBe('succeeded');
    const second = await triggerJob(hub, 'retained', 'job');
    expect(finalStatus(await readBuildEvents(hub, second))).toBe('succeeded');
    const before = (await hub.artifacts.list()).map((a) => a.digest);

    const result = await collectGarbage(hub.store, hub.artifacts, {
      now: Date.now(),
      minArtifactAgeMs: 0,
      auditLogRetentionMs: hub.options.auditLogRetentionMs,
    });
    expect(result.builds).toBe(1);
    expect((await hub.api('GET', `/builds/${first}`)).status).toBe(404);
    expect((await hub.api('GET', `/builds/${second}`)).status).toBe(200);
    const after = (await hub.artifacts.list()).map((a) => a.digest);
    expect(after.length).toBeLessThan(before.length);
    expect([...(await hub.store.referencedDigests())].every((d) => after.includes(d))).toBe(true);
  });

  it('errors a step whose output exceeds the artifact size limit, naming the output', async () => {
    await setPipeline(
      hub,
      'big',
      `jobs:
- name: job
  plan:
${task('huge', 'linux', 'head -c 1000000 /dev/zero > out/blob', '      outputs: [{ name: out }]\n')}`,
    );
    const events = await readBuildEvents(hub, await triggerJob(hub, 'big', 'job'));
    expect(events.find((e) => e.event === 'error')?.data.message).toMatch(
      /output "out": .*larger than the limit of 262144 bytes/,
    );
    expect(finalStatus(events)).toBe('errored');
  });
});
