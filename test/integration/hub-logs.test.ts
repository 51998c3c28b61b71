// Issue #11 item 6: what the hub and the agent log during a small build, read as an operator's log
// pipeline would: every line one JSON object with no key twice, the build's end as
// `team/pipeline/job #N status` with the same as fields, scheduler lines that name the pipeline, and
// (issue #14 item 4) the admin token nowhere in the output, only the path of its 0600 file.

import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { ADMIN_TOKEN_FILE, readAdminToken } from '../../hub/auth/admin-token.js';
import { spawnAgentProcess } from '../support/agent-process.js';
import { callApi, spawnChildHub, killChildHub } from '../support/child-hub.js';
import { readLogLines } from '../support/log-lines.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const PIPELINE = `resources:
- name: tick
  type: mock
  source: {initial_version: v1}
jobs:
- name: hello
  plan:
  - get: tick
    trigger: true
  - task: say
    config:
      platform: linux
      run: {path: sh, args: ['-c', 'echo hello']}
`;

it('logs one JSON object per line with no repeated key, each build end, the pipeline in scheduler lines, and no token', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-logs-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const hub = await spawnChildHub(path.join(dir, 'hub'), { args: ['--log-level', 'debug'] });
  cleanups.push(() => killChildHub(hub));
  const admin = await readAdminToken(path.join(dir, 'hub'));
  const api = <T>(method: string, route: string, body?: unknown) =>
    callApi<T>(hub.url, admin, method, route, body);

  const token = (await api<{ token: string }>('POST', '/agent-tokens', { name: 'logs' })).body.token;
  const agent = await spawnAgentProcess(
    { grpcPort: hub.grpcPort },
    {
      dir: path.join(dir, 'agent'),
      token,
      name: 'logs-agent',
    },
  );
  cleanups.push(() => void agent.child.kill('SIGKILL'));
  await agent.logged('connected to the hub');

  expect(
    (await api('PUT', '/teams/main/pipelines/p/config', { source: PIPELINE, file: 'p.yml' })).status,
  ).toBe(200);
  expect((await api('PUT', '/teams/main/pipelines/p/unpause')).status).toBe(204);
  // The mock's first version triggers build #1 (the checker's next tick finds it).
  const until = Date.now() + 60_000;
  let status: string | undefined;
  while (status !== 'succeeded') {
    if (Date.now() > until) throw new Error(`build #1 still ${status ?? 'not created'}`);
    await new Promise((r) => setTimeout(r, 100));
    const builds = await api<{ name: string; status: string }[]>(
      'GET',
      '/teams/main/pipelines/p/jobs/hello/builds',
    );
    status = builds.body.find((b) => b.name === '1')?.status;
  }
  agent.child.kill('SIGTERM');
  await agent.exited;
  hub.child.kill('SIGTERM');
  expect((await hub.exited).code).toBe(0);

  const hubLines = readLogLines(hub.output());
  const agentLines = readLogLines(agent.output());
  expect(hubLines.problems).toEqual([]);
  expect(agentLines.problems).toEqual([]);
  expect(hubLines.entries.map((e) => e.msg)).toContain('hub stopped');
  expect(agentLines.entries.map((e) => e.msg)).toContain('agent stopped');

  expect(hubLines.entries).toContainEqual(
    expect.objectContaining({
      component: 'engine',
      msg: 'main/p/hello #1 succeeded',
      team: 'main',
      pipeline: 'p',
      job: 'hello',
      build: '1',
      status: 'succeeded',
    }),
  );
  expect(hubLines.entries).toContainEqual(
    expect.objectContaining({
      component: 'scheduler',
      msg: 'main/p/hello #1: new versions triggered it',
      pipeline: 'p',
      job: 'hello',
    }),
  );

  const file = path.join(dir, 'hub', ADMIN_TOKEN_FILE);
  expect((await stat(file)).mode & 0o777).toBe(0o600);
  expect(hubLines.entries).toContainEqual(expect.objectContaining({ file }));
  expect(hub.output()).not.toContain(admin);
  expect(agent.output()).not.toContain(admin);
  console.log(
    `logs: hub ${hubLines.entries.length} lines, agent ${agentLines.entries.length} lines, 0 repeated keys`,
  );
}, 120_000);
