import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentSummary, AgentTokenSummary, BuildSummary } from '../../hub/api/types.js';
import { FakeHub, sandbox, sendJson, type Sandbox } from './fake-hub.js';

process.env.TZ = 'UTC';

const T = 1_700_000_000; // 2023-11-14 22:13:20 UTC
const NOW = (T + 3 * 3600) * 1000;

const BUILDS: BuildSummary[] = [
  {
    id: 12,
    team: 'main',
    pipeline: 'app',
    job: 'unit',
    name: '3',
    status: 'started',
    createdAt: T + 3 * 3600 - 100,
    startedAt: T + 3 * 3600 - 90,
    endedAt: null,
    waitingReason: null,
  },
  {
    id: 11,
    team: 'main',
    pipeline: 'app',
    job: 'integration',
    name: '1.1',
    status: 'failed',
    createdAt: T,
    startedAt: T + 5,
    endedAt: T + 70,
    waitingReason: null,
  },
  {
    id: 10,
    team: 'main',
    pipeline: 'app',
    job: 'unit',
    name: '2',
    status: 'pending',
    createdAt: T,
    startedAt: null,
    endedAt: null,
    waitingReason: 'no agent',
  },
];

let hub: FakeHub;
let sb: Sandbox;

beforeEach(async () => {
  hub = await FakeHub.start();
  sb = await sandbox();
  await sb.saveTarget(hub.url);
});
afterEach(() => hub.close());

describe('builds', () => {
  beforeEach(() => {
    hub.on('GET', '/builds', (_req, res) => sendJson(res, 200, BUILDS));
  });

  it('prints a fly-style table', async () => {
    const r = await sb.run(['--print-table-headers', 'builds'], { now: NOW });
    expect(r).toEqual({
      code: 0,
      stdout: [
        'id  pipeline/job     build  status             start                     end                       duration',
        '12  app/unit         3      started            2023-11-15@01:11:50+0000  n/a                       1m30s+',
        '11  app/integration  1.1    failed             2023-11-14@22:13:25+0000  2023-11-14@22:14:30+0000  1m5s',
        // A waiting build says what it waits for.
        '10  app/unit         2      pending: no agent  n/a                       n/a                       n/a',
        '',
      ].join('\n'),
      stderr: '',
    });
    expect(hub.requests[0]?.query).toEqual({ team: 'main', limit: '50' });
  });

  it("prints the header row only on a terminal or with --print-table-headers, as fly's tables", async () => {
    // Cells as a script splits them (the header, when printed, also counts in the column widths).
    const cells = (out: string) =>
      out
        .trimEnd()
        .split('\n')
        .map((l) => l.split(/\s{2,}/));
    const piped = cells((await sb.run(['builds'], { now: NOW })).stdout);
    expect(piped.map((row) => row[0])).toEqual(['12', '11', '10']);
    const flagged = cells((await sb.run(['--print-table-headers', 'builds'], { now: NOW })).stdout);
    expect(flagged.slice(1)).toEqual(piped);
    expect(flagged[0]?.[1]).toBe('pipeline/job');
    // On a terminal the header is there (and bold).
    const terminal = (await sb.run(['builds'], { now: NOW, isTTY: true })).stdout.split('\n');
    expect(terminal.slice(1)).toEqual(
      (await sb.run(['--print-table-headers', 'builds'], { now: NOW })).stdout.split('\n').slice(1),
    );
    expect(terminal[0]).toContain('pipeline/job');
  });

  it('filters by job and count, and prints JSON', async () => {
    const r = await sb.run(['builds', '-j', 'app/unit', '-c', '2', '--json']);
    expect(r.code).toBe(0);
    // Each build with its API address and Concourse's fields (times in Unix seconds, none when unset).
    const seconds = (ms: number | null) => (ms === null ? undefined : Math.floor(ms / 1000));
    expect(JSON.parse(r.stdout)).toEqual(
      BUILDS.slice(0, 2).map((b): unknown =>
        JSON.parse(
          JSON.stringify({
            ...b,
            api_url: `/api/v1/builds/${b.id}`,
            team_name: b.team,
            job_name: b.job,
            pipeline_name: b.pipeline,
            start_time: seconds(b.startedAt),
            end_time: seconds(b.endedAt),
          }),
        ),
      ),
    );
    expect(hub.requests[0]?.query).toEqual({ team: 'main', pipeline: 'app', job: 'unit', limit: '2' });
  });

  it('rejects a bad count', async () => {
    const r = await sb.run(['builds', '-c', 'many']);
    expect(r).toEqual({
      code: 1,
      stdout: '',
      stderr: "error: invalid --count 'many': expected a positive integer\n",
    });
  });
});

describe('abort-build', () => {
  it('aborts by job and build name, or by id', async () => {
    hub.on('GET', '/teams/main/pipelines/app/jobs/unit/builds/3', (_req, res) =>
      sendJson(res, 200, BUILDS[0]),
    );
    hub.on('PUT', '/builds/:id/abort', (_req, res) => {
      res.writeHead(204).end();
    });
    const r = await sb.run(['abort-build', '-j', 'app/unit', '-b', '3']);
    expect(r).toEqual({ code: 0, stdout: 'build successfully aborted\n', stderr: '' });
    const r2 = await sb.run(['abort-build', '-b', '99']);
    expect(r2).toEqual({ code: 0, stdout: 'build successfully aborted\n', stderr: '' });
    expect(hub.requests.filter((q) => q.method === 'PUT').map((q) => q.path)).toEqual([
      '/api/v1/builds/12/abort',
      '/api/v1/builds/99/abort',
    ]);
  });
});

describe('agents', () => {
  const agents: AgentSummary[] = [
    {
      name: 'agent-1',
      cluster: 'eu-1',
      version: '0.1.0',
      state: 'connected',
      pools: [
        {
          name: 'default',
          platform: 'linux',
          tags: ['ssd', 'fast'],
          executor: 'process',
          capacity: 4,
          inUse: 1,
          admission: null,
        },
        {
          name: 'gpu',
          platform: 'linux',
          tags: [],
          executor: 'kubernetes',
          capacity: 2,
          inUse: 0,
          admission: { verdict: 'refused', message: 'exceeded quota: compute' },
        },
        {
          name: 'k8s',
          platform: 'linux',
          tags: [],
          executor: 'kubernetes',
          capacity: 2,
          inUse: 0,
          admission: { verdict: 'admitted', message: '' },
        },
      ],
      lastHeartbeatAt: NOW - 3000,
    },
    {
      name: 'agent-2',
      cluster: 'us-1',
      version: '0.1.0',
      state: 'disconnected',
      pools: [],
      lastHeartbeatAt: NOW - 2 * 3600 * 1000,
    },
    {
      name: 'agent-3',
      cluster: 'us-1',
      version: '0.1.0',
      state: 'draining',
      pools: [],
      lastHeartbeatAt: null,
    },
  ];

  it('prints pools as name(platform tags=[...]) used/capacity, kubernetes admission, and the heartbeat age', async () => {
    hub.on('GET', '/agents', (_req, res) => sendJson(res, 200, agents));
    const r = await sb.run(['--print-table-headers', 'agents'], { now: NOW });
    expect(r).toEqual({
      code: 0,
      stdout: [
        'name     cluster  pools                                                                                                                                         state         last heartbeat',
        'agent-1  eu-1     default(linux tags=[ssd,fast]) 1/4, gpu(linux tags=[]) 0/2 admission: refused: exceeded quota: compute, k8s(linux tags=[]) 0/2 admission: ok  connected     3s ago',
        'agent-2  us-1     none                                                                                                                                          disconnected  2h ago',
        'agent-3  us-1     none                                                                                                                                          draining      never',
        '',
      ].join('\n'),
      stderr: '',
    });
    const json = await sb.run(['agents', '--json']);
    expect(JSON.parse(json.stdout)).toEqual(agents);
  });
});

describe('agent-tokens', () => {
  const tokens: AgentTokenSummary[] = [
    {
      id: 1,
      name: 'eu-cluster',
      team: 'main',
      bounds: { agentPrefix: 'eu/outpost-agent-', pools: ['linux'], tags: [], maxCapacity: 20 },
      createdAt: T,
      expiresAt: null,
      revokedAt: null,
      lastUsedAt: NOW - 65_000,
    },
    {
      id: 2,
      name: 'old',
      team: null,
      bounds: null,
      createdAt: T,
      expiresAt: null,
      revokedAt: T + 60,
      lastUsedAt: null,
    },
    {
      id: 3,
      name: 'yearly',
      team: null,
      bounds: null,
      createdAt: T,
      expiresAt: T + 120,
      revokedAt: null,
      lastUsedAt: null,
    },
  ];

  beforeEach(() => {
    hub.on('GET', '/agent-tokens', (_req, res) => sendJson(res, 200, tokens));
    hub.on('POST', '/agent-tokens', (req, res) =>
      sendJson(res, 201, {
        id: 3,
        ...(req.body as object),
        team: (req.body as { team?: string }).team ?? null,
        createdAt: T,
        expiresAt:
          (req.body as { expiresAt?: number }).expiresAt ??
          ((req.body as { expiresIn?: number }).expiresIn ?? NaN) + T,
        revokedAt: null,
        lastUsedAt: null,
        token: 'opt_abc123',
      }),
    );
    hub.on('DELETE', '/agent-tokens/:id', (_req, res) => {
      res.writeHead(204).end();
    });
  });

  it('create prints the secret once, with a warning', async () => {
    const r = await sb.run(['agent-tokens', 'create', '--name', 'eu-cluster', '--team', 'main']);
    expect(r).toEqual({
      code: 0,
      stdout: 'created agent token eu-cluster (id 3, team main)\ntoken: opt_abc123\n',
      stderr: "warning: this token will not be shown again; store it now (e.g. as the agent's secret)\n",
    });
    expect(hub.requestsTo('POST', '/api/v1/agent-tokens')[0]?.body).toEqual({
      name: 'eu-cluster',
      team: 'main',
    });
    const global = await sb.run(['agent-tokens', 'create', '--name', 'all']);
    expect(global.stdout).toBe('created agent token all (id 3, all teams)\ntoken: opt_abc123\n');
    expect(hub.requestsTo('POST', '/api/v1/agent-tokens')[1]?.body).toEqual({ name: 'all' });
  });

  it('create sends what the agent may claim; an empty --tags allows no tags', async () => {
    const flags = ['--agent-prefix', 'eu/outpost-agent-', '--pools', 'linux, gpu', '--platforms', 'linux'];
    const r = await sb.run([
      'agent-tokens',
      'create',
      '--name',
      'eu',
      ...flags,
      '--tags',
      '',
      '--max-capacity',
      '20',
    ]);
    expect(r.code).toBe(0);
    expect(hub.requestsTo('POST', '/api/v1/agent-tokens')[0]?.body).toEqual({
      name: 'eu',
      agentPrefix: 'eu/outpost-agent-',
      pools: ['linux', 'gpu'],
      platforms: ['linux'],
      tags: [],
      maxCapacity: 20,
    });
    const bad = await sb.run(['agent-tokens', 'create', '--name', 'eu', '--max-capacity', 'lots']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('max capacity');
  });

  it('create sends an expiry, --expires-in as seconds or --expires-at as a time, and says it', async () => {
    const yearly = await sb.run(['agent-tokens', 'create', '--name', 'eu', '--expires-in', '365d']);
    expect(yearly.stdout).toContain(
      'created agent token eu (id 3, all teams, expires 2024-11-13@22:13:20+0000)',
    );
    const dated = await sb.run([
      'agent-tokens',
      'create',
      '--name',
      'eu',
      '--expires-at',
      '2027-06-30T12:00:00Z',
    ]);
    expect(dated.code).toBe(0);
    expect(hub.requestsTo('POST', '/api/v1/agent-tokens').map((r) => r.body)).toEqual([
      { name: 'eu', expiresIn: 365 * 86_400 },
      { name: 'eu', expiresAt: Date.parse('2027-06-30T12:00:00Z') },
    ]);
    for (const [flags, message] of [
      [['--expires-in', '1y'], "invalid --expires-in '1y': expected a duration like 365d, 12h or 90m"],
      [['--expires-at', 'tomorrow'], "invalid --expires-at 'tomorrow': expected a date such as 2027-06-30"],
      [['--expires-in', '1d', '--expires-at', '2027-06-30'], 'give --expires-in or --expires-at, not both'],
    ] as const) {
      const bad = await sb.run(['agent-tokens', 'create', '--name', 'eu', ...flags]);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain(message);
    }
  });

  it('list prints a table without secrets', async () => {
    const r = await sb.run(['--print-table-headers', 'agent-tokens', 'list'], { now: NOW });
    expect(r).toEqual({
      code: 0,
      stdout: [
        'id  name        team         may claim                                                     created                   last used  expires                   state',
        '1   eu-cluster  main         eu/outpost-agent-*; pools linux; tags (none); capacity <= 20  2023-11-14@22:13:20+0000  1m ago     never                     active',
        '2   old         (all teams)  anything                                                      2023-11-14@22:13:20+0000  never      never                     revoked 2023-11-14@22:14:20+0000',
        '3   yearly      (all teams)  anything                                                      2023-11-14@22:13:20+0000  never      2023-11-14@22:15:20+0000  expired',
        '',
      ].join('\n'),
      stderr: '',
    });
  });

  it('revoke deletes by id', async () => {
    const r = await sb.run(['agent-tokens', 'revoke', '2']);
    expect(r).toEqual({ code: 0, stdout: 'revoked agent token 2\n', stderr: '' });
    expect(hub.requests.at(-1)).toMatchObject({ method: 'DELETE', path: '/api/v1/agent-tokens/2' });
  });

  it('an expired token gets a hint to log in again', async () => {
    await sb.saveTarget(hub.url, { token: 'expired' });
    const r = await sb.run(['agent-tokens', 'list']);
    expect(r).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'error: invalid or missing token\n' +
        "the token of target 'default' was not accepted; log in again: outpost login -t default --url URL --token TOKEN\n",
    });
  });
});
