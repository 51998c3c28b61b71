// The role matrix: every API route the server serves × every caller — each role of team alpha, alpha's
// API token, an owner of team beta and an anonymous caller — against alpha's objects. A caller below the
// route's role gets 403, beta's owner gets 404 (alpha's names must not leak), no login gets 401. Every
// answer to beta's owner or to the anonymous caller is scanned for alpha's pipeline name, build log and
// secret value. Then alpha's other pipeline is exposed and hidden again: while exposed, anyone reads it
// and the logs of its public job, never the other job's logs nor its config; hidden, nothing. Then
// impersonations: an OIDC account named as alpha's owner, and an agent token of beta taking the name of
// alpha's connected agent, must both be refused. The last line printed sums up what was checked and
// what the answers were (`npm run test:security`).

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
import { status as GrpcStatus } from '@grpc/grpc-js';
import { finalStatus, readBuildEvents, startTestAgent, type TestHub, logText } from '../support/harness.js';
import { browseLogin } from '../support/oidc-browser.js';
import { startOidcTestHub, type OidcTestHub } from '../support/oidc-hub.js';
import { rawAgent } from '../support/raw-agent.js';
import { tarOf } from '../support/tar.js';
import { countRefused, recordRoutes } from '../support/security-tally.js';

type Need =
  'public' | 'anyone' | 'authenticated' | 'admin' | 'viewer' | 'pipeline-operator' | 'member' | 'owner';
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

const ids = { build: 0, step: 0, version: 0, apiToken: 0, agentToken: 0, oneOff: 0 };
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
/** The routes that consume DOOMED (destroy, rename, archive it, clear its versions): set it afresh. */
const CONSUMING = new Set([
  `DELETE ${PIPE}`,
  `PUT ${PIPE}/rename`,
  `PUT ${PIPE}/archive`,
  `DELETE ${RES}/versions`,
  `DELETE ${PIPE}/resource-types/:type/versions`,
]);
const DOOMED_CONFIG = `resource_types: [{ name: t, type: registry-image, source: { repository: example/t } }]
resources: [{ name: r, type: mock, check_every: never, source: {} }]
jobs: [{ name: j, plan: [] }]
`;
const build = () => ids.build;
const version = () => ids.version;

const ROWS: Record<string, Row> = {
  'GET /healthz': { need: 'public' },
  'GET /readyz': { need: 'public' },
  'GET /.well-known/openid-configuration': { need: 'public' },
  'GET /.well-known/jwks.json': { need: 'public' },
  // The metrics token or an admin's API token (test/integration/metrics-auth.test.ts).
  'GET /metrics': { need: 'admin' },
  // The web UI's page and files: public, they hold no data (everything comes from the API).
  'GET /': { need: 'public' },
  'GET /*': { need: 'public' },
  // Public routes check their own credential: the resource's webhook token, the user's password.
  [`POST ${RES}/check/webhook`]: { need: 'public', query: `webhook_token=${SECRET}` },
  [`POST ${API}/auth/token`]: {
    need: 'public',
    body: { username: 'alpha-viewer', password: 'alpha-viewer-password!', team: 'alpha' },
  },
  // The provider's login page; a callback without a login's state is refused by the route itself (400).
  [`GET ${API}/auth/oidc/login`]: { need: 'public', query: 'team=alpha', alsoOk: 302 },
  [`GET ${API}/auth/oidc/callback`]: { need: 'public', alsoOk: 400 },
  // Anyone; a caller who sends a token is shown more (its name; the teams it has a role in).
  [`GET ${API}/info`]: { need: 'anyone' },
  [`GET ${API}/teams`]: { need: 'anyone' },
  [`GET ${API}/user`]: { need: 'authenticated' },
  // Owners read their team's audit log (admins all of it).
  [`GET ${API}/audit`]: { need: 'owner', query: 'team=alpha' },
  // An automation token is not renewed (400): it keeps the expiry its owner chose.
  [`POST ${API}/auth/renew`]: { need: 'authenticated', alsoOk: 400 },
  [`GET ${API}/builds`]: { need: 'authenticated' },
  [`GET ${API}/agents`]: { need: 'authenticated' },
  [`GET ${API}/queue`]: { need: 'authenticated' },
  [`GET ${TEAM}`]: { need: 'viewer' },
  [`GET ${TEAM}/pipelines`]: { need: 'viewer' },
  [`GET ${TEAM}/containers`]: { need: 'viewer' },
  [`GET ${PIPE}/config`]: { need: 'viewer' },
  [`GET ${PIPE}/jobs`]: { need: 'viewer' },
  [`GET ${PIPE}/jobs/:job/builds`]: { need: 'viewer' },
  [`GET ${PIPE}/jobs/:job/builds/:name`]: { need: 'viewer' },
  [`GET ${API}/builds/:id`]: { need: 'viewer', id: build },
  [`GET ${API}/builds/:id/events`]: { need: 'viewer', id: build },
  [`GET ${API}/builds/:id/events/page`]: { need: 'viewer', id: build },
  [`GET ${API}/builds/:id/log`]: { need: 'viewer', id: build },
  [`GET ${API}/builds/:id/plan`]: { need: 'viewer', id: build },
  [`GET ${PIPE}/resources`]: { need: 'viewer' },
  [`GET ${RES}/versions`]: { need: 'viewer' },
  [`PUT ${PIPE}/pause`]: { need: 'pipeline-operator' },
  [`PUT ${PIPE}/unpause`]: { need: 'pipeline-operator' },
  [`POST ${PIPE}/jobs/:job/builds`]: { need: 'pipeline-operator' },
  [`PUT ${PIPE}/jobs/:job/pause`]: { need: 'pipeline-operator' },
  [`POST ${PIPE}/jobs/:job/builds/:name`]: { need: 'pipeline-operator' },
  [`PUT ${PIPE}/jobs/:job/schedule`]: { need: 'pipeline-operator' },
  [`DELETE ${PIPE}/jobs/:job/tasks/:step/cache`]: { need: 'pipeline-operator', params: { step: 'run' } },
  [`DELETE ${RES}/cache`]: { need: 'pipeline-operator' },
  // These two consume what they clear: they get the pipeline the destroy and rename routes get.
  [`DELETE ${RES}/versions`]: { need: 'pipeline-operator', params: { pipeline: DOOMED } },
  [`DELETE ${PIPE}/resource-types/:type/versions`]: {
    need: 'pipeline-operator',
    params: { pipeline: DOOMED },
  },
  [`GET ${API}/pipelines`]: { need: 'authenticated' },
  [`PUT ${PIPE}/archive`]: { need: 'member', params: { pipeline: DOOMED } },
  [`PUT ${TEAM}/pipelines/ordering`]: { need: 'member', body: [PIPELINE] },
  [`PUT ${PIPE}/ordering`]: { need: 'member', body: [{}] },
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
  // The handle of alpha's build's step, which has ended: a permitted caller learns it is not enterable.
  [`POST ${API}/containers/:id/intercept`]: { need: 'member', id: () => ids.step, alsoOk: 404 },
  [`PUT ${PIPE}/rename`]: { need: 'member', params: { pipeline: DOOMED }, body: { name: RENAMED } },
  [`DELETE ${PIPE}`]: { need: 'member', params: { pipeline: DOOMED } },
  // Exposing the doomed pipeline, hidden again after each call, so alpha's reads stay alpha's.
  [`PUT ${PIPE}/expose`]: { need: 'member', params: { pipeline: DOOMED } },
  [`PUT ${PIPE}/hide`]: { need: 'member', params: { pipeline: DOOMED } },
  [`GET ${TEAM}/api-tokens`]: { need: 'owner' },
  [`POST ${TEAM}/api-tokens`]: { need: 'owner', body: { name: 'made', role: 'viewer', expiresIn: 3600 } },
  [`DELETE ${TEAM}/api-tokens/:id`]: { need: 'owner', id: () => ids.apiToken },
  [`PUT ${TEAM}`]: { need: 'admin', body: { members: [] } },
  [`PUT ${TEAM}/rename`]: { need: 'admin', body: { name: 'renamed' } },
  [`DELETE ${TEAM}`]: { need: 'admin' },
  [`GET ${API}/users`]: { need: 'admin' },
  [`POST ${API}/admin-token/rotate`]: { need: 'admin' },
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

let env: OidcTestHub;
let hub: TestHub;
let stopAgent: () => Promise<void>;
/** What every check found, for the summary line. */
const tally = { checks: 0, allowed: 0, denied: 0 };
const leaks: string[] = [];
let routeCount = 0;
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
  env = await startOidcTestHub({ webDir });
  hub = env.hub;
  const agent = await startTestAgent(hub, { name: 'alpha-agent' });
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
  ids.step = (await hub.store.listStepRuns(ids.build))[0]!.id;
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
  console.log(
    `security: routes=${routeCount} checks=${tally.checks} allowed=${tally.allowed} denied=${tally.denied} leaks=${leaks.length}`,
  );
  // `npm run test:security` prints it again after vitest's own summary (test/security/summary.ts).
  recordRoutes({ routes: routeCount, ...tally, leaks: leaks.length });
  await stopAgent();
  await env.close();
  await rm(webDir, { recursive: true, force: true });
});

/** Counts an answer as allowed or denied by what it was (not by what was expected), and scans it for leaks. */
function tallyAnswer(
  what: string,
  caller: Caller,
  status: number,
  text: string,
  markers = LEAK_MARKERS,
): void {
  tally.checks++;
  if (status < 300) tally.allowed++;
  else if ([401, 403, 404].includes(status)) tally.denied++;
  if (caller.relation !== 'own')
    for (const marker of markers)
      if (text.includes(marker)) leaks.push(`${what} as ${caller.name}: contains "${marker}"`);
}

/**
 * Refreshes what a route consumes before each caller (a revoked token cannot be revoked twice, nor a
 * destroyed or renamed pipeline destroyed or renamed again, to show who may).
 */
async function prepare(key: string): Promise<void> {
  if (CONSUMING.has(key)) {
    await hub.api('DELETE', `/teams/alpha/pipelines/${RENAMED}`);
    await admin('PUT', `/teams/alpha/pipelines/${DOOMED}/config`, { source: DOOMED_CONFIG });
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
  if (row.need === 'public' || row.need === 'anyone') return 'allowed';
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
    routeCount = served.length;
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
          redirect: 'manual',
          headers: {
            ...(caller.token ? { authorization: `Bearer ${caller.token}` } : {}),
            ...(row.body === undefined ? {} : { 'content-type': 'application/json' }),
            ...(row.upload ? { 'content-type': 'application/octet-stream' } : {}),
          },
          body: row.upload ? row.upload() : row.body === undefined ? undefined : JSON.stringify(row.body),
        });
        const text = await res.text();
        tallyAnswer(key, caller, res.status, text);
        const want = expected(row, caller);
        const ok = want === 'allowed' ? res.status < 300 || res.status === row.alsoOk : res.status === want;
        if (!ok)
          wrong.push(`${key} as ${caller.name}: expected ${want}, got ${res.status} ${text.slice(0, 200)}`);
        if (key === `PUT ${PIPE}/expose` && res.status < 300)
          await admin('PUT', `/teams/alpha/pipelines/${DOOMED}/hide`);
        // A renewed login token replaces (and revokes) the one that asked.
        if (key === `POST ${API}/auth/renew` && res.status === 200)
          caller.token = (JSON.parse(text) as LoginResponse).token;
      }
    }
    expect(wrong).toEqual([]);
    expect(leaks).toEqual([]);
  }, 120_000);

  it('shows an exposed pipeline to anyone, the logs of its public job only, and nothing once hidden', async () => {
    const OPEN = 'alpha-open';
    const OPEN_LOG = 'alpha-open-public-log';
    await admin('PUT', `/teams/alpha/pipelines/${OPEN}/config`, {
      source: `resources:
- name: r
  type: mock
  check_every: never
  source: { no_initial_version: true }
jobs:
- name: shown
  public: true
  plan: [{ task: t, config: { platform: linux, run: { path: sh, args: ['-c', 'echo ${OPEN_LOG}'] } } }]
- name: unshown
  plan: [{ task: t, config: { platform: linux, run: { path: sh, args: ['-c', 'echo ${LOG_MARKER}'] } } }]
`,
    });
    await admin('PUT', `/teams/alpha/pipelines/${OPEN}/unpause`);
    const builds: Record<string, number> = {};
    for (const job of ['shown', 'unshown']) {
      builds[job] = (
        await admin<BuildSummary>('POST', `/teams/alpha/pipelines/${OPEN}/jobs/${job}/builds`)
      ).id;
      await readBuildEvents(hub, builds[job]);
    }
    const pipe = `${API}/teams/alpha/pipelines/${OPEN}`;
    // Readable while exposed; `false`: never readable by another team or without login.
    const reads: [string, boolean][] = [
      [`${API}/teams/alpha/pipelines`, true],
      [`${pipe}/jobs`, true],
      [`${pipe}/jobs/shown/builds`, true],
      [`${pipe}/jobs/shown/builds/1`, true],
      [`${pipe}/resources`, true],
      [`${pipe}/resources/r/versions`, true],
      [`${API}/builds/${builds.shown}`, true],
      [`${API}/builds/${builds.shown}/plan`, true],
      [`${API}/builds/${builds.shown}/events`, true],
      [`${API}/builds/${builds.unshown}/events`, false],
      [`${API}/builds/${builds.unshown}/plan`, false],
      [`${pipe}/config`, false],
    ];
    const outsiders = callers.filter((c) => c.relation !== 'own');
    const wrong: string[] = [];
    const probe = async (exposed: boolean) => {
      for (const caller of outsiders)
        for (const [url, exposable] of reads) {
          const res = await fetch(`${hub.url}${url}`, {
            headers: caller.token ? { authorization: `Bearer ${caller.token}` } : {},
          });
          const text = await res.text();
          tallyAnswer(`GET ${url} (${exposed ? 'exposed' : 'hidden'})`, caller, res.status, text);
          const want = exposed && exposable ? 200 : caller.token ? 404 : 401;
          if (res.status !== want)
            wrong.push(`GET ${url} as ${caller.name}: expected ${want}, got ${res.status}`);
          if (exposed && url.endsWith(`${builds.shown}/events`) && !text.includes(OPEN_LOG))
            wrong.push(`the public job's log is not in ${url}`);
        }
    };
    await probe(false);
    await admin('PUT', `/teams/alpha/pipelines/${OPEN}/expose`);
    const listed = await fetch(`${hub.url}${API}/teams/alpha/pipelines`);
    expect(
      ((await listed.json()) as { name: string; public: boolean }[]).map((p) => [p.name, p.public]),
    ).toEqual([[OPEN, true]]);
    await probe(true);
    await admin('PUT', `/teams/alpha/pipelines/${OPEN}/hide`);
    await probe(false);
    expect(wrong).toEqual([]);
    expect(leaks).toEqual([]);
  }, 120_000);

  it("refuses impersonations: an OIDC account named as alpha's owner, beta's agent under alpha's agent's name", async () => {
    // OIDC users are named `oidc:<name>`: the provider's "alpha-owner" is not the local alpha-owner.
    env.provider.addAccount({ id: 'alpha-owner', groups: [] });
    const login = await browseLogin(
      `${hub.url}${API}/auth/oidc/login?team=alpha`,
      'alpha-owner',
      (url) => url.pathname === '/login/callback',
    );
    expect(login.location).toBeUndefined();
    expect(login.status).toBe(403);
    countRefused("an OIDC account under a local user's name");

    const betaAgentToken = await hub.newAgentToken('beta-agent', 'beta');
    const impostor = rawAgent(hub.grpcAddress, betaAgentToken, { agentName: 'alpha-agent' });
    try {
      const refused = await impostor.ended;
      expect(refused.code).toBe(GrpcStatus.PERMISSION_DENIED);
      countRefused("a Hello under another agent's name with another token");
    } finally {
      impostor.close();
    }
  }, 60_000);
});
