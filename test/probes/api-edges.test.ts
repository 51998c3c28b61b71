// An outside prober's requests at the edges of the API (docs/security.md, "Probed"): bodies of the
// wrong media type, paths the router cannot read, names at their length limit, a write that loses a
// race, a webhook posted as a form, and HEAD on a build's event stream. Each answer is the API's JSON
// error naming the problem.

import { connect } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ApiError } from '../../hub/api/types.js';
import { setPipeline, shellPipeline, startTestHub, triggerJob, type TestHub } from '../support/harness.js';

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(async () => {
  await hub.close();
});

async function send(
  method: string,
  path: string,
  body?: { text: string | Uint8Array; type?: string },
  auth = true,
): Promise<{ status: number; text: string; headers: Headers }> {
  const headers: Record<string, string> = auth ? { authorization: `Bearer ${hub.adminToken}` } : {};
  if (body?.type) headers['content-type'] = body.type;
  const res = await fetch(`${hub.url}/api/v1${path}`, { method, headers, body: body?.text });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

const errorOf = (text: string) => (JSON.parse(text) as ApiError).error;

it('answers a body of another media type with 415 naming it, on routes that take JSON', async () => {
  const config = JSON.stringify({ source: 'jobs: []' });
  const login = JSON.stringify({ team: 'main', username: 'nobody', password: 'x' });
  for (const [method, path, auth, text] of [
    ['PUT', '/teams/main/pipelines/typed/config', true, config],
    ['POST', '/auth/token', false, login],
  ] as const) {
    for (const type of ['application/octet-stream', 'text/plain', 'application/x-www-form-urlencoded']) {
      const res = await send(method, path, { text, type }, auth);
      expect({ path, type, status: res.status }).toEqual({ path, type, status: 415 });
      expect(errorOf(res.text)).toEqual({
        code: 'unsupported_media_type',
        message: `this route takes a JSON body (Content-Type: application/json), not Content-Type "${type}"`,
      });
    }
  }
  // The same body as JSON is taken.
  const ok = await send('PUT', '/teams/main/pipelines/typed/config', {
    text: config,
    type: 'application/json; charset=utf-8',
  });
  expect(ok.status).toBe(200);
});

it('answers a path it cannot decode with a JSON 400 that does not echo the path', async () => {
  const res = await send('GET', '/teams/main/pipelines/%ZZsecret/config');
  expect(res.status).toBe(400);
  expect(res.headers.get('content-type')).toContain('application/json');
  expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  expect(errorOf(res.text)).toEqual({
    code: 'bad_url',
    message: 'the path is not a valid URL: each "%" must start an escape of two hex digits, like %2F',
  });
  expect(res.text).not.toContain('secret');
});

it('reaches every job whose name set-pipeline accepted, and refuses longer names when set', async () => {
  const job = 'j'.repeat(1024);
  const source = `jobs:\n- name: ${job}\n  plan: []\n`;
  expect((await hub.api('PUT', '/teams/main/pipelines/long/config', { source })).status).toBe(200);
  const trigger = await send('POST', `/teams/main/pipelines/long/jobs/${job}/builds`);
  expect(trigger.status).toBe(201);

  const longer = await hub.api<ApiError>('PUT', '/teams/main/pipelines/longer/config', {
    source: `jobs:\n- name: ${job}x\n  plan: []\n`,
  });
  expect(longer.status).toBe(400);
  expect(longer.body.error.details?.[0]?.message).toContain('longer than 1024 characters');
});

it('reaches a pipeline renamed to the longest name rename allows', async () => {
  expect((await hub.api('PUT', '/teams/main/pipelines/short/config', { source: 'jobs: []' })).status).toBe(
    200,
  );
  const name = 'p'.repeat(128);
  expect((await hub.api('PUT', '/teams/main/pipelines/short/rename', { name })).status).toBe(204);
  expect((await send('GET', `/teams/main/pipelines/${name}/config`)).status).toBe(200);
  expect((await send('DELETE', `/teams/main/pipelines/${name}`)).status).toBe(204);
});

it('says which name is taken when a rename loses, without the database talking', async () => {
  for (const name of ['first', 'second'])
    expect(
      (await hub.api('PUT', `/teams/main/pipelines/${name}/config`, { source: 'jobs: []' })).status,
    ).toBe(200);
  const [a, b] = await Promise.all(
    ['first', 'second'].map((from) =>
      hub.api<ApiError | undefined>('PUT', `/teams/main/pipelines/${from}/rename`, { name: 'winner' }),
    ),
  );
  const statuses = [a?.status, b?.status].sort();
  expect(statuses).toEqual([204, 409]);
  const lost = [a, b].find((r) => r?.status === 409)?.body;
  expect(lost?.error.message).toBe('pipeline "winner" already exists');
});

it("takes a resource webhook posted as a form (GitHub's default), as Concourse does", async () => {
  const source = `resources:\n- name: r\n  type: mock\n  check_every: never\n  webhook_token: tok\njobs: []\n`;
  expect((await hub.api('PUT', '/teams/main/pipelines/hooked/config', { source })).status).toBe(200);
  const res = await send(
    'POST',
    '/teams/main/pipelines/hooked/resources/r/check/webhook?webhook_token=tok',
    { text: 'payload=%7B%22ref%22%3A%22main%22%7D', type: 'application/x-www-form-urlencoded' },
    false,
  );
  expect(res.status).toBe(201);
});

it("answers HEAD on a running build's event stream with its headers and ends, holding nothing open", async () => {
  await setPipeline(hub, 'headless', shellPipeline('echo never runs'));
  // No agent: the build waits, so its stream (GET) would stay open for as long as the client reads.
  const build = await triggerJob(hub, 'headless', 'job');
  const { hostname, port } = new URL(hub.url);
  const socket = connect(Number(port), hostname);
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (received += chunk));
  // Two requests on one keep-alive connection: the second is answered only once the first has ended.
  socket.write(
    `HEAD /api/v1/builds/${build}/events HTTP/1.1\r\nHost: probe\r\nAuthorization: Bearer ${hub.adminToken}\r\n\r\n` +
      'GET /healthz HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n',
  );
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  const bound = new Promise<'open'>((resolve) => setTimeout(() => resolve('open'), 10_000).unref());
  const outcome = await Promise.race([closed.then(() => 'ended' as const), bound]);
  socket.destroy();
  const answers = received.split('\r\n').filter((line) => line.startsWith('HTTP/1.1 '));
  expect({ outcome, answers }).toEqual({ outcome: 'ended', answers: ['HTTP/1.1 200 OK', 'HTTP/1.1 200 OK'] });
  expect(received).toContain('content-type: text/event-stream');
  expect(received).not.toContain('event: ');
}, 30_000);
