// One hub and one agent, in process, over real gRPC and HTTP: the behaviour a user sees through the API.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  finalStatus,
  logText,
  openEventStream,
  readBuildEvents,
  setPipeline,
  shellPipeline,
  startTestAgent,
  startTestHub,
  triggerJob,
  type TestHub,
  scrapeMetrics,
} from '../support/harness.js';

let hub: TestHub;
let agent: Awaited<ReturnType<typeof startTestAgent>>;

beforeAll(async () => {
  hub = await startTestHub();
  agent = await startTestAgent(hub);
  await agent.welcomed;
});

afterAll(async () => {
  await agent.stop();
  await hub.close();
});

describe('a build on the embedded defaults', () => {
  it('runs a task with its params and streams stdout and stderr in order', async () => {
    await setPipeline(
      hub,
      'ok',
      shellPipeline('echo "hello $WHO"; echo oops >&2; echo bye', '    params: { WHO: world }\n'),
    );
    const events = await readBuildEvents(hub, await triggerJob(hub, 'ok', 'job'));
    expect(events.map((e) => e.event)).toEqual([
      'status',
      'initialize-task',
      'selected-worker',
      'start-task',
      ...events.filter((e) => e.event === 'log').map(() => 'log'),
      'finish-task',
      'status',
    ]);
    // Two pipes have no order between them; each stream keeps its own.
    const stream = (source: string) =>
      logText(
        events.filter((e) => e.event === 'log' && (e.data.origin as { source: string }).source === source),
      );
    expect(stream('stdout')).toBe('hello world\nbye\n');
    expect(stream('stderr')).toBe('oops\n');
    expect(events.find((e) => e.event === 'selected-worker')?.data).toMatchObject({
      selected_worker: 'test/agent-1',
      pool: 'local',
    });
    expect(events.find((e) => e.event === 'finish-task')?.data.exit_status).toBe(0);
    expect(finalStatus(events)).toBe('succeeded');
  });

  it('fails the build with the task exit status', async () => {
    await setPipeline(hub, 'fail', shellPipeline('echo failing; exit 3'));
    const id = await triggerJob(hub, 'fail', 'job');
    const events = await readBuildEvents(hub, id);
    expect(events.find((e) => e.event === 'finish-task')?.data.exit_status).toBe(3);
    expect(finalStatus(events)).toBe('failed');
    expect((await hub.api<{ status: string }>('GET', `/builds/${id}`)).body.status).toBe('failed');
  });

  it('errors a step whose command does not exist, with the reason', async () => {
    await setPipeline(
      hub,
      'missing',
      'jobs:\n- name: job\n  plan:\n  - task: t\n    config: { platform: linux, run: { path: no-such-command-xyz } }\n',
    );
    const events = await readBuildEvents(hub, await triggerJob(hub, 'missing', 'job'));
    expect(events.find((e) => e.event === 'error')?.data.message).toMatch(/no-such-command-xyz.*not found/);
    expect(finalStatus(events)).toBe('errored');
  });

  it('says in the log what a process pool cannot apply (image, container_limits)', async () => {
    await setPipeline(
      hub,
      'limits',
      `jobs:
- name: job
  plan:
  - task: t
    config:
      platform: linux
      image_resource: { type: registry-image, source: { repository: busybox } }
      container_limits: { memory: 1GB }
      run: { path: echo, args: [ran] }
`,
    );
    const events = await readBuildEvents(hub, await triggerJob(hub, 'limits', 'job'));
    expect(logText(events)).toContain(
      'outpost: pool "local" runs steps as host processes; not applied: image busybox, container_limits\n',
    );
    expect(logText(events)).toContain('ran\n');
    expect(finalStatus(events)).toBe('succeeded');
  });

  it('runs the steps of a job in order and stops at the first failure', async () => {
    await setPipeline(
      hub,
      'seq',
      `jobs:
- name: job
  plan:
  - task: one
    config: { platform: linux, run: { path: sh, args: [-c, 'echo one'] } }
  - task: two
    config: { platform: linux, run: { path: sh, args: [-c, 'echo two; exit 1'] } }
  - task: three
    config: { platform: linux, run: { path: sh, args: [-c, 'echo three'] } }
`,
    );
    const events = await readBuildEvents(hub, await triggerJob(hub, 'seq', 'job'));
    expect(logText(events)).toBe('one\ntwo\n');
    expect(events.filter((e) => e.event === 'initialize-task')).toHaveLength(2);
    expect(finalStatus(events)).toBe('failed');
  });

  it('aborts a running build: the process is killed and the build ends aborted', async () => {
    await setPipeline(
      hub,
      'long',
      shellPipeline(
        'echo $$ > "$PIDFILE"; echo started; exec sleep 600',
        `    params: { PIDFILE: ${agent.dir}/pid }\n`,
      ),
    );
    const id = await triggerJob(hub, 'long', 'job');
    const stream = await openEventStream(hub, id);
    await stream.until('started\\n');
    expect((await hub.api('PUT', `/builds/${id}/abort`)).status).toBe(204);
    const seen = await stream.rest();
    expect(seen).toContain('"message":"interrupted"');
    expect(seen).toContain('"status":"aborted"');
    expect(seen).toContain('event: end');
    const { readFile } = await import('node:fs/promises');
    const pid = Number(await readFile(`${agent.dir}/pid`, 'utf8'));
    expect(() => process.kill(pid, 0)).toThrow();
  });

  it('replays events after Last-Event-ID without repeating any', async () => {
    await setPipeline(hub, 'replay', shellPipeline('for i in 1 2 3 4 5; do echo line $i; done'));
    const id = await triggerJob(hub, 'replay', 'job');
    const all = await readBuildEvents(hub, id);
    const res = await fetch(`${hub.url}/api/v1/builds/${id}/events`, {
      headers: { authorization: `Bearer ${hub.adminToken}`, 'last-event-id': '3' },
    });
    const text = await res.text();
    const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    expect(ids[0]).toBe(4);
    expect(ids).toHaveLength(all.length - 3);
    expect(text.trimEnd().endsWith('event: end\ndata')).toBe(true);
  });

  it('says why a build waits when no agent offers what a step needs', async () => {
    await setPipeline(
      hub,
      'win',
      'jobs:\n- name: job\n  plan:\n  - task: t\n    tags: [gpu]\n    config: { platform: windows, run: { path: cmd } }\n',
    );
    const id = await triggerJob(hub, 'win', 'job');
    const stream = await openEventStream(hub, id);
    const seen = await stream.until('waiting-for-worker');
    await stream.cancel();
    expect(seen).toContain('no connected agent offers platform=windows with tags [gpu]');
    const build = await hub.api<{ status: string; waitingReason: string }>('GET', `/builds/${id}`);
    expect(build.body.waitingReason).toBe('no connected agent offers platform=windows with tags [gpu]');
    await hub.api('PUT', `/builds/${id}/abort`);
    expect(finalStatus(await readBuildEvents(hub, id))).toBe('aborted');
  });
});

describe('pipeline validation at set-pipeline', () => {
  it('rejects an unknown key with its file, line and column', async () => {
    const res = await hub.api<{
      error: { code: string; details: { line: number; col: number; message: string }[] };
    }>('PUT', '/teams/main/pipelines/bad/config', {
      source:
        'jobs:\n- name: job\n  plan:\n  - task: t\n    bogus: 1\n    config: { platform: linux, run: { path: "true" } }\n',
      file: 'bad.yml',
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_pipeline');
    expect(res.body.error.details).toEqual([
      expect.objectContaining({
        file: 'bad.yml',
        line: 5,
        col: 5,
        message: 'unknown field "bogus" in task step',
      }),
    ]);
  });
});

describe('the API', () => {
  it('requires a valid token', async () => {
    const res = await fetch(`${hub.url}/api/v1/builds`, { headers: { authorization: 'Bearer opu_wrong' } });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    expect((await fetch(`${hub.url}/api/v1/builds`)).status).toBe(401);
  });

  it('serves health, readiness and metrics without a token', async () => {
    expect((await fetch(`${hub.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${hub.url}/readyz`)).status).toBe(200);
    const metrics = await scrapeMetrics(hub);
    expect(metrics).toContain('outpost_hub_agents_connected 1');
    expect(metrics).toContain('outpost_hub_dispatch_latency_seconds_bucket');
  });
});
