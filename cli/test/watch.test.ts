import type { ServerResponse } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BuildSummary } from '../../hub/api/types.js';
import {
  FakeHub,
  sandbox,
  sendError,
  sendJson,
  serveEvents,
  SSE_END,
  sseFrame,
  type HubRequest,
  type Sandbox,
} from './fake-hub.js';

process.env.TZ = 'UTC';

const T = 1_700_000_000; // 2023-11-14 22:13:20 UTC, in Unix seconds as Concourse events carry
const origin = { id: 'plan-1' };
type Ev = [string, Record<string, unknown>];

function build(id: number, name: string, status: BuildSummary['status'] = 'started'): BuildSummary {
  return {
    id,
    team: 'main',
    pipeline: 'app',
    job: 'unit',
    name,
    status,
    createdAt: T,
    startedAt: T,
    endedAt: null,
    waitingReason: null,
  };
}

const start = (path: string, args: string[], time = T + 2): Ev => [
  'start-task',
  { origin, time, config: { platform: 'linux', run: { path, args, dir: '' } } },
];
const log = (payload: string, time = T + 2): Ev => [
  'log',
  { origin: { ...origin, source: 'stdout' }, payload, time },
];
const status = (s: string, time = T + 5): Ev => ['status', { status: s, time }];

const SUCCEEDED: Ev[] = [
  status('started', T),
  ['waiting-for-worker', { origin, reason: 'no agent in pool default has capacity', time: T }],
  ['selected-worker', { origin, selected_worker: 'agent-1', pool: 'default', time: T + 1 }],
  ['initialize-task', { origin, time: T + 1 }],
  start('sh', ['-c', 'echo hello; printf par; echo tial']),
  log('hello\n'),
  log('par', T + 3),
  log('tial\n', T + 4),
  ['finish-task', { origin, exit_status: 0, time: T + 5 }],
  status('succeeded'),
];

const SUCCEEDED_TEXT = [
  'waiting for a worker: no agent in pool default has capacity',
  'selected worker: agent-1 (pool default)',
  'initializing',
  'running sh -c echo hello; printf par; echo tial',
  'hello',
  'partial',
  'succeeded',
  '',
].join('\n');

let hub: FakeHub;
let sb: Sandbox;
let events: Ev[];

beforeEach(async () => {
  events = SUCCEEDED;
  hub = await FakeHub.start();
  hub.on('POST', '/teams/main/pipelines/app/jobs/unit/builds', (_req, res) =>
    sendJson(res, 201, build(42, '1')),
  );
  hub.on('GET', '/builds/42/events', (req, res) => serveEvents(events)(req, res));
  sb = await sandbox();
  await sb.saveTarget(hub.url);
});
afterEach(() => hub.close());

describe('trigger-job', () => {
  it('prints the started line', async () => {
    const r = await sb.run(['trigger-job', '-j', 'app/unit']);
    expect(r).toEqual({ code: 0, stdout: 'started app/unit #1\n', stderr: '' });
  });

  it('-w renders the event stream and exits 0 on success', async () => {
    const r = await sb.run(['trigger-job', '-j', 'app/unit', '-w']);
    expect(r).toEqual({ code: 0, stdout: 'started app/unit #1\n' + SUCCEEDED_TEXT, stderr: '' });
  });

  it('-w uses bold, dim and colour on a terminal', async () => {
    const r = await sb.run(['trigger-job', '-j', 'app/unit', '-w'], { isTTY: true });
    expect(r.stdout).toBe(
      [
        'started app/unit #1',
        '\x1b[2mwaiting for a worker: no agent in pool default has capacity\x1b[22m',
        '\x1b[2mselected worker: agent-1 (pool default)\x1b[22m',
        '\x1b[1minitializing\x1b[22m',
        '\x1b[1mrunning sh -c echo hello; printf par; echo tial\x1b[22m',
        'hello',
        'partial',
        '\x1b[32msucceeded\x1b[39m',
        '',
      ].join('\n'),
    );
  });

  it("shows the hub's pending note, a log of no step, as a dimmed line of its own", async () => {
    events = [
      status('started', T),
      log('par', T),
      ['log', { origin: {}, payload: 'pending: waiting for the check of r\n', time: T + 1 }],
      log('tial\n', T + 2),
      status('succeeded'),
    ];
    const r = await sb.run(['trigger-job', '-j', 'app/unit', '-w'], { isTTY: true });
    expect(r.stdout).toBe(
      [
        'started app/unit #1',
        'par',
        '\x1b[2mpending: waiting for the check of r\x1b[22m',
        'tial',
        '\x1b[32msucceeded\x1b[39m',
        '',
      ].join('\n'),
    );
  });

  it('--timestamps prefixes each line with the time of its event', async () => {
    const r = await sb.run(['trigger-job', '-j', 'app/unit', '-w', '--timestamps']);
    expect(r.stdout).toBe(
      [
        'started app/unit #1',
        '22:13:20  waiting for a worker: no agent in pool default has capacity',
        '22:13:21  selected worker: agent-1 (pool default)',
        '22:13:21  initializing',
        '22:13:22  running sh -c echo hello; printf par; echo tial',
        '22:13:22  hello',
        '22:13:23  partial',
        '22:13:25  succeeded',
        '',
      ].join('\n'),
    );
  });

  it('a failed task exits with its exit status', async () => {
    events = [
      ['initialize-task', { origin, time: T }],
      start('sh', ['-c', 'echo boom; exit 3']),
      log('boom\n'),
      ['finish-task', { origin, exit_status: 3, time: T + 3 }],
      status('failed'),
    ];
    const r = await sb.run(['trigger-job', '-j', 'app/unit', '-w']);
    expect(r).toEqual({
      code: 3,
      stdout: 'started app/unit #1\ninitializing\nrunning sh -c echo boom; exit 3\nboom\nfailed\n',
      stderr: '',
    });
  });

  it('errored exits 2 and shows the error in red', async () => {
    events = [
      ['initialize-task', { origin, time: T }],
      ['error', { origin, message: 'exec: "nonexistent": executable file not found in $PATH', time: T + 1 }],
      status('errored'),
    ];
    const plain = await sb.run(['trigger-job', '-j', 'app/unit', '-w']);
    expect(plain.code).toBe(2);
    expect(plain.stdout).toBe(
      'started app/unit #1\ninitializing\nexec: "nonexistent": executable file not found in $PATH\nerrored\n',
    );
    const tty = await sb.run(['trigger-job', '-j', 'app/unit', '-w'], { isTTY: true });
    expect(tty.stdout).toContain('\x1b[31mexec: "nonexistent": executable file not found in $PATH\x1b[39m\n');
  });

  it('aborted exits 3; failed without a task exit status exits 1', async () => {
    events = [
      start('sleep', ['100']),
      ['error', { origin, message: 'interrupted', time: T + 3 }],
      status('aborted'),
    ];
    const aborted = await sb.run(['trigger-job', '-j', 'app/unit', '-w']);
    expect(aborted).toEqual({
      code: 3,
      stdout: 'started app/unit #1\nrunning sleep 100\ninterrupted\naborted\n',
      stderr: '',
    });
    events = [['error', { origin, message: 'timeout exceeded', time: T }], status('failed')];
    expect((await sb.run(['trigger-job', '-j', 'app/unit', '-w'])).code).toBe(1);
  });

  it('ends a partial last log line before the status word', async () => {
    events = [log('no newline'), status('succeeded')];
    const r = await sb.run(['trigger-job', '-j', 'app/unit', '-w']);
    expect(r.stdout).toBe('started app/unit #1\nno newline\nsucceeded\n');
  });

  it('maps API errors to error: MESSAGE', async () => {
    hub.on('POST', '/teams/main/pipelines/app/jobs/nope/builds', (_req, res) =>
      sendError(res, 404, 'job_not_found', "job 'nope' not found in pipeline 'app'"),
    );
    const r = await sb.run(['trigger-job', '-j', 'app/nope']);
    expect(r).toEqual({ code: 1, stdout: '', stderr: "error: job 'nope' not found in pipeline 'app'\n" });
  });
});

describe('watch', () => {
  it('reconnects with Last-Event-ID and shows no event twice or lost', async () => {
    const all: Ev[] = [
      ['initialize-task', { origin, time: T }],
      start('sh', ['-c', 'seq 5']),
      log('1\n'),
      log('2\n'),
      log('3\n'),
      log('4\n'),
      log('5\n'),
      ['finish-task', { origin, exit_status: 0, time: T + 3 }],
      status('succeeded'),
    ];
    const frames = all.map(([e, d], i) => sseFrame(i + 1, e, d));
    let connection = 0;
    hub.on('GET', '/builds/7/events', (_req: HubRequest, res: ServerResponse) => {
      connection++;
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      if (connection === 1) {
        // Events 1-3, then half of event 4, then the connection drops.
        res.write(': hello\n\n' + frames.slice(0, 3).join('') + frames[3]!.slice(0, 30));
        setTimeout(() => res.socket?.destroy(), 20);
      } else if (connection === 2) {
        // Replays inclusively from the Last-Event-ID (3) and ends the response without `end`.
        res.end(frames.slice(2, 6).join(''));
      } else {
        res.end(frames.slice(6).join('') + SSE_END);
      }
    });
    const r = await sb.run(['watch', '-b', '7']);
    expect(r).toEqual({
      code: 0,
      stdout: 'initializing\nrunning sh -c seq 5\n1\n2\n3\n4\n5\nsucceeded\n',
      stderr: '',
    });
    const ids = hub.requestsTo('GET', '/api/v1/builds/7/events').map((q) => q.headers['last-event-id']);
    expect(ids).toEqual([undefined, '3', '6']);
  });

  it('gives up on an event stream that keeps failing', async () => {
    hub.on('GET', '/builds/8/events', (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      res.end(sseFrame(1, 'initialize-task', { origin, time: T }));
    });
    const r = await sb.run(['watch', '-b', '8'], {
      options: { client: { reconnectDelayMs: 1, maxReconnectAttempts: 2 } },
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('initializing\n');
    expect(r.stderr).toBe(
      `error: lost the event stream of build 8 from ${hub.url}: the stream ended early\n`,
    );
  });

  it('-j P/J watches the latest build of the job', async () => {
    hub.on('GET', '/teams/main/pipelines/app/jobs', (_req, res) =>
      sendJson(res, 200, [
        { name: 'unit', pipeline: 'app', team: 'main', paused: false, latestBuild: build(42, '1') },
      ]),
    );
    const r = await sb.run(['watch', '-j', 'app/unit']);
    expect(r).toEqual({ code: 0, stdout: SUCCEEDED_TEXT, stderr: '' });
  });

  it('-j P/J -b NAME polls until the build exists', async () => {
    let asked = 0;
    hub.on('GET', '/teams/main/pipelines/app/jobs/unit/builds/2', (_req, res) => {
      asked++;
      if (asked < 2) sendError(res, 404, 'not_found', 'build not found');
      else sendJson(res, 200, build(42, '2'));
    });
    const r = await sb.run(['watch', '-j', 'app/unit', '-b', '2']);
    expect(r).toEqual({ code: 0, stdout: SUCCEEDED_TEXT, stderr: '' });
    expect(asked).toBe(2);
  });

  it('stops waiting for a named build after --timeout', async () => {
    hub.on('GET', '/teams/main/pipelines/app/jobs/unit/builds/9', (_req, res) =>
      sendError(res, 404, 'not_found', 'build not found'),
    );
    const r = await sb.run(['watch', '-j', 'app/unit', '-b', '9', '--timeout', '0s']);
    expect(r).toEqual({
      code: 1,
      stdout: '',
      stderr: 'error: build app/unit #9 did not appear within 0s (build not found)\n',
    });
  });

  it('falls back to the build status when the stream has no final status', async () => {
    events = [log('bye\n')];
    hub.on('GET', '/builds/42', (_req, res) => sendJson(res, 200, { ...build(42, '1'), status: 'failed' }));
    const r = await sb.run(['watch', '-b', '42']);
    expect(r).toEqual({ code: 1, stdout: 'bye\nfailed\n', stderr: '' });
  });

  it('needs a job or a build', async () => {
    const r = await sb.run(['watch']);
    expect(r).toEqual({
      code: 1,
      stdout: '',
      stderr: 'error: specify -j PIPELINE/JOB (optionally with -b NAME), or -b BUILD_ID\n',
    });
  });
});
