// The role matrix: every API route the server serves × every caller — each role of team alpha, alpha's
// API token, an owner of team beta and an anonymous caller — against alpha's objects. A caller below the
// route's role gets 403, beta's owner gets 404 (alpha's names must not leak), no login gets 401. Every
// answer to beta's owner or to the anonymous caller is scanned for alpha's pipeline name, build log and
// secret value. The last line printed sums it up (`npm run test:security`).

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {
  ApiTokenSummary,
  BuildSummary,
  LoginResponse,
  ResourceVersionSummary,
} from '../../hub/api/types.js';
import {
  finalStatus,
  readBuildEvents,
  startTestAgent,
  startTestHub,
  type TestHub,
  logText,
} from '../support/harness.js';
import { tarOf } from '../support/tar.js';

type Need = 'public' | 'authenticated' | 'admin' | 'viewer' | 'pipeline-operator' | 'member' | 'owner';
const ORDER = ['viewer', 'pipeline-operator', 'member', 'owner'] as const;

const PIPELINE = 'alpha-pipe';
const LOG_MARKER = 'alpha-log-marker';
const SECRET = 'alpha-secret-value';
const LEAK_MARKERS = [PIPELINE, LOG_MARKER, SECRET];

const ALPHA_CONFIG = `resource_types:
- name: t
  type: registry-image
  source: { repository: example/t }
resources:
- name: r
  type: mock
  check_every: never
  webhook_token: ${SECRET}
  source: { no_initial_version: true }
jobs:
- name: j
  plan:
  - task: run
    config:
      platform: linux
      run: { path: sh, args: ['-c', 'echo ${LOG_MARKER}'] }
`;

/** The role each route needs, and what to send it (a valid request for alpha's objects). */
interface Row {
  need: Need;
  body?: unknown;
  /** The `:id` to use (alpha's build, resource version or API token). */
  id?: () => number;
  query?: string;
  /** Path parameters other than PARAMS' (a route that destroys or renames its pipeline gets its own). */
  params?: Record<string, string>;
  /** A refusal that is the route's own answer to a permitted caller (aborting a finished build: 409). */
  alsoOk?: number;
  /** Sent as application/octet-stream instead of a JSON body (an input archive). */
  upload?: () => Buffer;
}

const ids = { build: 0, version: 0, apiToken: 0, agentToken: 0, oneOff: 0 };
/** A one-file tar archive: what `outpost execute` uploads. */
let archive = Buffer.alloc(0);
const ONE_OFF_CONFIG = `platform: linux
outputs: [{ name: out }]
run: { path: sh, args: ['-c', 'echo ${LOG_MARKER} > out/file'] }
`;
/** The pipeline the destroy and rename routes consume, and the name rename gives it. */
const DOOMED = 'doomed';
const RENAMED = 'renamed';
const API = '/api/v1';
const TEAM = `${API}/teams/:team`;
const PIPE = `${TEAM}/pipelines/:pipeline`;
const RES = `${PIPE}/resources/:resource`;
const build = () => ids.build;
const version = () => ids.version;

const ROWS: Record<string, Row> = {
  'GET /healthz': { need: 'public' },
  'GET /readyz': { need: 'public' },
  'GET /metrics': { need: 'public' },
  // The web UI's page and files: public, they hold no data (everything comes from the API).
  'GET /': { need: 'public' },
  'GET /*': { need: 'public' },
  // Public routes check their own credential: the resource's webhook token, the user's password.
  [`POST ${RES}/check/webhook`]: { need: 'public', query: `webhook_token=${SECRET}` },
  [`POST ${API}/auth/token`]: {
    need: 'public',
    body: { username: 'alpha-viewer', password: 'alpha-viewer-password!', team: 'alpha' },
  },
  [`GET ${API}/info`]: { need: 'authenticated' },
  [`GET ${API}/user`]: { need: 'authenticated' },
  // An automation token is not renewed (400): it keeps the expiry its owner chose.
  [`POST ${API}/auth/renew`]: { need: 'authenticated', alsoOk: 400 },
  [`GET ${API}/teams`]: { need: 'authenticated' },
  [`GET ${API}/builds`]: { need: 'authenticated' },
  [`GET ${API}/agents`]: { need: 'authenticated' },
  [`GET ${TEAM}`]: { need: 'viewer' },
  [`GET ${TEAM}/pipelines`]: { need: 'viewer' },
  [`GET ${PIPE}/config`]: { need: 'viewer' },
  [`GET ${PIPE}/jobs`]: { need: 'viewer' },
  [`GET ${PIPE}/jobs/:job/builds`]: { need: 'viewer' },
  [`GET ${PIPE}/jobs/:job/builds/:name`]: { need: 'viewer' },
  [`GET ${API}/builds/:id`]: { need: 'viewer', id: build },
  [`GET ${API}/builds/:id/events`]: { need: 'viewer', id: build },
  [`GET ${API}/builds/:id/plan`]: { need: 'viewer', id: build },
  [`GET ${PIPE}/resources`]: { need: 'viewer' },
  [`GET ${RES}/versions`]: { need: 'viewer' },
  [`PUT ${PIPE}/pause`]: { need: 'pipeline-operator' },
  [`PUT ${PIPE}/unpause`]: { need: 'pipeline-operator' },
  [`POST ${PIPE}/jobs/:job/builds`]: { need: 'pipeline-operator' },
  [`PUT ${PIPE}/jobs/:job/pause`]: { need: 'pipeline-operator' },
  [`PUT ${PIPE}/jobs/:job/unpause`]: { need: 'pipeline-operator' },
  [`PUT ${API}/builds/:id/abort`]: { need: 'pipeline-operator', id: build, alsoOk: 409 },
  [`POST ${RES}/check`]: { need: 'pipeline-operator', body: { from: { version: 'v0' } } },
  [`POST ${PIPE}/resource-types/:type/check`]: { need: 'pipeline-operator' },
  [`PUT ${RES}/versions/:id/disable`]: { need: 'pipeline-operator', id: version },
  [`PUT ${RES}/versions/:id/enable`]: { need: 'pipeline-operator', id: version },
  [`PUT ${RES}/versions/:id/pin`]: { need: 'pipeline-operator', id: version },
  [`PUT ${RES}/unpin`]: { need: 'pipeline-operator' },
  [`PUT ${PIPE}/config`]: { need: 'member', body: { source: ALPHA_CONFIG, file: 'p.yml' } },
  [`POST ${TEAM}/artifacts`]: { need: 'member', upload: () => archive },
  [`POST ${TEAM}/builds`]: { need: 'member', body: { config: 'platform: linux\nrun: { path: "true" }' } },
  [`GET ${API}/builds/:id/outputs/:output`]: { need: 'member', id: () => ids.oneOff },
  // Alpha's build has ended, so a permitted caller learns there is no running step in it (404).
  [`POST ${API}/builds/:id/intercept`]: { need: 'member', id: build, alsoOk: 404 },
  [`PUT ${PIPE}/rename`]: { need: 'member', params: { pipeline: DOOMED }, body: { name: RENAMED } },
  [`DELETE ${PIPE}`]: { need: 'member', params: { pipeline: DOOMED } },
  [`GET ${TEAM}/api-tokens`]: { need: 'owner' },
  [`POST ${TEAM}/api-tokens`]: { need: 'owner', body: { name: 'made', role: 'viewer', expiresIn: 3600 } },
  [`DELETE ${TEAM}/api-tokens/:id`]: { need: 'owner', id: () => ids.apiToken },
  [`PUT ${TEAM}`]: { need: 'admin', body: { members: [] } },
  [`PUT ${TEAM}/rename`]: { need: 'admin', body: { name: 'renamed' } },
  [`DELETE ${TEAM}`]: { need: 'admin' },
  [`GET ${API}/users`]: { need: 'admin' },
  [`PUT ${API}/users/:user`]: { need: 'admin', body: { password: 'a long enough password' } },
  [`GET ${API}/agent-tokens`]: { need: 'admin' },
  [`POST ${API}/agent-tokens`]: { need: 'admin', body: { name: 'made', team: 'alpha' } },
  [`DELETE ${API}/agent-tokens/:id`]: { need: 'admin', id: () => ids.agentToken },
};

const PARAMS: Record<string, string> = {
  team: 'alpha',
  pipeline: PIPELINE,
  job: 'j',
  resource: 'r',
  type: 't',
  name: '1',
  user: 'alpha-viewer',
  output: 'out',
};

/** Who calls: a team-alpha role (own team), beta's owner (another team), or nobody. */
interface Caller {
  name: string;
  relation: 'own' | 'other' | 'none';
  role?: (typeof ORDER)[number];
  token?: string;
}

let hub: TestHub;
let stopAgent: () => Promise<void>;
const callers: Caller[] = [];

async function admin<T>(method: string, url: string, body?: unknown): Promise<T> {
  const res = await hub.api<T>(method, url, body);
  if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

async function login(user: string, team: string): Promise<string> {
  const res = await fetch(`${hub.url}${API}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: user, password: `${user}-password!`, team }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as LoginResponse).token;
}

let webDir: string;

beforeAll(async () => {
  // A page of its own, so the web UI's public routes answer whether or not `npm run build` ran.
  webDir = await mkdtemp(path.join(os.tmpdir(), 'outpost-security-web-'));
  await writeFile(path.join(webDir, 'index.html'), '<!doctype html><title>Outpost</title>');
  hub = await startTestHub({ webDir });
  const agent = await startTestAgent(hub);
  stopAgent = () => agent.stop();
  const users = ['alpha-viewer', 'alpha-pipeline-operator', 'alpha-member', 'alpha-owner', 'beta-owner'];
  for (const user of users) await admin('PUT', `/users/${user}`, { password: `${user}-password!` });
  await admin('PUT', '/teams/alpha', {
    members: ORDER.map((role) => ({ user: `alpha-${role}`, role })),
  });
  await admin('PUT', '/teams/beta', { members: [{ user: 'beta-owner', role: 'owner' }] });

  await admin('PUT', `/teams/alpha/pipelines/${PIPELINE}/config`, { source: ALPHA_CONFIG, file: 'p.yml' });
  await admin('PUT', `/teams/alpha/pipelines/${PIPELINE}/unpause`);
  await admin('PUT', '/teams/beta/pipelines/beta-pipe/config', { source: 'jobs: [{name: j, plan: []}]' });
  const check = await admin<BuildSummary>('POST', `/teams/alpha/pipelines/${PIPELINE}/resources/r/check`, {
    from: { version: 'v1' },
  });
  await readBuildEvents(hub, check.id);
  const versions = await admin<ResourceVersionSummary[]>(
    'GET',
    `/teams/alpha/pipelines/${PIPELINE}/resources/r/versions`,
  );
  ids.version = versions[0]!.id;
  const triggered = await admin<BuildSummary>('POST', `/teams/alpha/pipelines/${PIPELINE}/jobs/j/builds`);
  ids.build = triggered.id;
  expect(logText(await readBuildEvents(hub, ids.build))).toContain(LOG_MARKER);
  const oneOff = await admin<BuildSummary>('POST', '/teams/alpha/builds', { config: ONE_OFF_CONFIG });
  ids.oneOff = oneOff.id;
  expect(finalStatus(await readBuildEvents(hub, ids.oneOff))).toBe('succeeded');
  const packed = path.join(webDir, 'input');
  await mkdir(packed);
  await writeFile(path.join(packed, 'file'), 'input');
  archive = await tarOf(packed);

  for (const role of ORDER)
    callers.push({
      name: `alpha ${role}`,
      relation: 'own',
      role,
      token: await login(`alpha-${role}`, 'alpha'),
    });
  const made = await admin<{ token: string }>('POST', '/teams/alpha/api-tokens', {
    name: 'ci',
    role: 'member',
    expiresIn: 3600,
  });
  callers.push({ name: 'alpha member API token', relation: 'own', role: 'member', token: made.token });
  callers.push({ name: 'beta owner', relation: 'other', token: await login('beta-owner', 'beta') });
  callers.push({ name: 'anonymous', relation: 'none' });
}, 120_000);

afterAll(async () => {
  await stopAgent();
  await hub.close();
  await rm(webDir, { recursive: true, force: true });
});

/**
 * Refreshes what a route consumes before each caller (a revoked token cannot be revoked twice, nor a
 * destroyed or renamed pipeline destroyed or renamed again, to show who may).
 */
async function prepare(key: string): Promise<void> {
  if (key === `DELETE ${PIPE}` || key === `PUT ${PIPE}/rename`) {
    await hub.api('DELETE', `/teams/alpha/pipelines/${RENAMED}`);
    await admin('PUT', `/teams/alpha/pipelines/${DOOMED}/config`, { source: 'jobs: [{name: j, plan: []}]' });
  }
  if (key.startsWith(`DELETE ${TEAM}/api-tokens`)) {
    const made = await admin<ApiTokenSummary>('POST', '/teams/alpha/api-tokens', {
      name: 'doomed',
      role: 'viewer',
      expiresIn: 3600,
    });
    ids.apiToken = made.id;
  }
  if (key.startsWith(`DELETE ${API}/agent-tokens`)) {
    await admin('POST', '/agent-tokens', { name: 'doomed', team: 'alpha' });
    const list = await admin<{ id: number; name: string; revokedAt: number | null }[]>(
      'GET',
      '/agent-tokens',
    );
    ids.agentToken = list.find((t) => t.name === 'doomed' && t.revokedAt === null)!.id;
  }
}

function expected(row: Row, caller: Caller): 'allowed' | 401 | 403 | 404 {
  if (row.need === 'public') return 'allowed';
  if (caller.relation === 'none') return 401;
  if (row.need === 'authenticated') return 'allowed';
  if (row.need === 'admin') return 403;
  if (caller.relation === 'other') return 404;
  return ORDER.indexOf(caller.role!) >= ORDER.indexOf(row.need) ? 'allowed' : 403;
}

describe('security matrix', () => {
  it('answers every route × caller as its role says, and leaks nothing of alpha to others', async () => {
    const served = hub.apiRoutes.map((r) => `${r.method} ${r.url}`).sort();
    expect(served).toEqual(Object.keys(ROWS).sort());
    let checks = 0;
    let allowed = 0;
    let denied = 0;
    const leaks: string[] = [];
    const wrong: string[] = [];
    for (const key of served) {
      const row = ROWS[key]!;
      const [method, url] = key.split(' ') as [string, string];
      for (const caller of callers) {
        await prepare(key);
        const path = url.replace(/:(\w+)/g, (_m, p: string) =>
          String(p === 'id' ? row.id!() : (row.params?.[p] ?? PARAMS[p])),
        );
        const res = await fetch(`${hub.url}${path}${row.query ? `?${row.query}` : ''}`, {
          method,
          headers: {
            ...(caller.token ? { authorization: `Bearer ${caller.token}` } : {}),
            ...(row.body === undefined ? {} : { 'content-type': 'application/json' }),
            ...(row.upload ? { 'content-type': 'application/octet-stream' } : {}),
          },
          body: row.upload ? row.upload() : row.body === undefined ? undefined : JSON.stringify(row.body),
        });
        const text = await res.text();
        checks++;
        const want = expected(row, caller);
        const ok = want === 'allowed' ? res.status < 300 || res.status === row.alsoOk : res.status === want;
        if (!ok)
          wrong.push(`${key} as ${caller.name}: expected ${want}, got ${res.status} ${text.slice(0, 200)}`);
        if (want === 'allowed') allowed++;
        else denied++;
        if (caller.relation !== 'own')
          for (const marker of LEAK_MARKERS)
            if (text.includes(marker)) leaks.push(`${key} as ${caller.name}: contains "${marker}"`);
        // A renewed login token replaces (and revokes) the one that asked.
        if (key === `POST ${API}/auth/renew` && res.status === 200)
          caller.token = (JSON.parse(text) as LoginResponse).token;
      }
    }
    const summary = `security: routes=${served.length} checks=${checks} allowed=${allowed} denied=${denied} leaks=${leaks.length} impersonations_refused=0`;
    console.log(summary);
    // `npm run test:security` prints it again after vitest's own summary, as its last line.
    if (process.env.OUTPOST_SECURITY_SUMMARY)
      await writeFile(process.env.OUTPOST_SECURITY_SUMMARY, summary + '\n');
    expect(wrong).toEqual([]);
    expect(leaks).toEqual([]);
  }, 120_000);
});
