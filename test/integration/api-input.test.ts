// Every API route, sent values of the wrong type: each answers 400 (or 401/404), as JSON naming the
// problem, never 500 and never a stack trace. The routes come from the server itself, so a route added
// without a row in CASES fails this test.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiError } from '../../hub/api/types.js';
import { startTestHub, triggerJob, type TestHub } from '../support/harness.js';

/** A request to send and the statuses that are right for it. */
interface Probe {
  what: string;
  /** Path parameter values replacing the route's defaults. */
  params?: Record<string, string>;
  /** Raw query string, without '?'. */
  query?: string;
  /** Raw JSON text sent as the body. */
  body?: string;
  expect: number[];
  /** A fragment the error message must contain (it names the field). */
  message?: string;
}

interface Case {
  /** Reachable without an API token. */
  public?: true;
  /** Values for the route's `:id`, where the route has one (an existing record when there is one). */
  id?: () => string;
  /** A valid body, sent with the generated probes of a route that needs one. */
  body?: string;
  /** What an unknown name in the path answers, when not 404 (401 on public routes). */
  unknownName?: number[];
  probes: Probe[];
}

let hub: TestHub;
let buildId = 0;
let agentTokenId = 0;
let agentToken = '';

const PIPELINE = `resource_types:
- name: t
  type: registry-image
  source: { repository: example/t }
resources:
- name: r
  type: mock
  check_every: never
  webhook_token: s3cret
jobs:
- name: j
  plan: [{ get: r }]
`;

/** Path parameter values naming records that exist. */
const EXISTING: Record<string, string> = {
  team: 'main',
  pipeline: 'p',
  job: 'j',
  resource: 'r',
  type: 't',
  name: '1',
  user: 'alice',
  step: 'run',
  output: 'out',
};

const repeated = (key: string): Probe => ({
  what: `repeated ${key}`,
  query: `${key}=a&${key}=b`,
  expect: [400],
  message: `"${key}"`,
});

const badLimits: Probe[] = ['1.5', '0', '-1', 'abc', '1e2', '0x10'].map((limit) => ({
  what: `limit=${limit}`,
  query: `limit=${limit}`,
  expect: [400],
  message: '"limit"',
}));

/** Bodies of the wrong shape for a route that takes an object. */
const badBodies = (fields: Record<string, string>): Probe[] => [
  { what: 'a list body', body: '[]', expect: [400], message: 'body' },
  { what: 'a string body', body: '"x"', expect: [400], message: 'body' },
  { what: 'a number body', body: '5', expect: [400], message: 'body' },
  { what: 'an unknown key', body: '{"bogus":1}', expect: [400], message: 'bogus' },
  ...Object.entries(fields).map(([field, value]) => ({
    what: `${field} of the wrong type`,
    body: `{${value}}`,
    expect: [400],
    message: `"${field}"`,
  })),
];

const API = '/api/v1';
const TEAM = `${API}/teams/:team`;
const PIPE = `${TEAM}/pipelines/:pipeline`;
const RESOURCE = `${PIPE}/resources/:resource`;
const VERSION = `${RESOURCE}/versions/:id`;
const buildIdText = () => String(buildId);
const ONE_OFF_CONFIG = 'platform: linux\nrun: { path: echo }';
const ONE_OFF = JSON.stringify({ config: ONE_OFF_CONFIG });
const absentVersion = () => '999999';

const CASES: Record<string, Case> = {
  'GET /healthz': { public: true, probes: [{ what: 'a stray query', query: 'x=1&x=2', expect: [200] }] },
  'GET /readyz': { public: true, probes: [{ what: 'a stray query', query: 'x=1&x=2', expect: [200] }] },
  'GET /.well-known/openid-configuration': {
    public: true,
    probes: [{ what: 'a stray query', query: 'x=1&x=2', expect: [200] }],
  },
  'GET /.well-known/jwks.json': {
    public: true,
    probes: [{ what: 'a stray query', query: 'x=1&x=2', expect: [200] }],
  },
  'GET /metrics': { public: true, probes: [{ what: 'a stray query', query: 'x=1&x=2', expect: [200] }] },
  // The web UI: its page, or a JSON 404 naming the build step when dist/web was not built.
  'GET /': { public: true, probes: [{ what: 'a stray query', query: 'x=1&x=2', expect: [200, 404] }] },
  'GET /*': { public: true, probes: [{ what: 'a stray query', query: 'x=1&x=2', expect: [200, 404] }] },
  // Anyone may call it; a token, when sent, must be an API token.
  [`GET ${API}/info`]: {
    public: true,
    probes: [
      { what: 'a stray query', query: 'x=1&x=2', expect: [200] },
      { what: 'an agent token', expect: [401], message: 'agent token' },
    ],
  },
  // This hub has no OIDC login (404); its input is checked first.
  [`GET ${API}/auth/oidc/login`]: {
    public: true,
    probes: [
      { what: 'no provider', expect: [404], message: 'OpenID Connect' },
      {
        what: 'another host to go to',
        query: 'redirect=//evil.example/',
        expect: [400],
        message: '"redirect"',
      },
      {
        what: 'a URL to go to',
        query: 'redirect=https://evil.example/',
        expect: [400],
        message: '"redirect"',
      },
      {
        what: 'a CLI listener elsewhere',
        query: 'cli_redirect=http://evil.example:80/callback',
        expect: [400],
        message: '"cli_redirect"',
      },
      repeated('team'),
    ],
  },
  [`GET ${API}/auth/oidc/callback`]: {
    public: true,
    probes: [
      { what: 'no state', expect: [400], message: 'unknown or expired login' },
      {
        what: 'a state, without a provider',
        query: 'state=nope&code=x',
        expect: [404],
        message: 'OpenID Connect',
      },
      repeated('state'),
    ],
  },
  [`GET ${API}/audit`]: {
    probes: [
      // Admins read the entries of a destroyed team too.
      { what: 'an unknown team', query: 'team=nope', expect: [200] },
      { what: 'a date for since', query: 'since=2026-01-01', expect: [400], message: '"since"' },
      repeated('user'),
      ...badLimits,
    ],
  },
  // Only probes that stop before the handler: rotating would revoke the token this test runs with.
  [`POST ${API}/admin-token/rotate`]: { probes: [] },
  [`PUT ${PIPE}/expose`]: { probes: [] },
  [`PUT ${PIPE}/hide`]: { probes: [] },
  [`GET ${TEAM}/pipelines`]: { probes: [] },
  [`GET ${PIPE}/config`]: { probes: [] },
  [`PUT ${PIPE}/config`]: {
    body: '{"source":"jobs: []"}',
    // "no such" is not a valid pipeline name to create.
    unknownName: [400, 404],
    probes: [
      { what: 'no source', body: '{"file":"p.yml"}', expect: [400], message: '"source"' },
      ...badBodies({
        source: '"source":5',
        file: '"source":"jobs: []","file":[]',
        expectedVersion: '"source":"x","expectedVersion":1.5',
      }),
    ],
  },
  [`PUT ${PIPE}/pause`]: { probes: [] },
  [`PUT ${PIPE}/unpause`]: { probes: [] },
  [`PUT ${PIPE}/rename`]: {
    body: '{"name":"renamed"}',
    probes: [
      { what: 'no name', body: '{}', expect: [400], message: '"name"' },
      { what: 'an invalid name', body: '{"name":"Not Valid"}', expect: [400], message: '"name"' },
      ...badBodies({ name: '"name":5' }),
    ],
  },
  // Every probe is refused before the pipeline is touched: `p` stays for the routes after this one.
  [`DELETE ${PIPE}`]: { probes: [] },
  [`GET ${PIPE}/jobs`]: { probes: [] },
  [`POST ${PIPE}/jobs/:job/builds`]: { probes: [] },
  [`GET ${PIPE}/jobs/:job/builds`]: { probes: [repeated('limit'), ...badLimits] },
  [`GET ${PIPE}/jobs/:job/builds/:name`]: {
    probes: [{ what: 'a build name as hex', params: { name: '0x1' }, expect: [404] }],
  },
  [`POST ${PIPE}/jobs/:job/builds/:name`]: { probes: [] },
  [`PUT ${PIPE}/jobs/:job/schedule`]: { probes: [] },
  [`DELETE ${PIPE}/jobs/:job/tasks/:step/cache`]: { probes: [repeated('cachePath')] },
  [`GET ${API}/pipelines`]: { probes: [{ what: 'a stray query', query: 'x=1&x=2', expect: [200] }] },
  [`PUT ${PIPE}/archive`]: { probes: [] },
  [`PUT ${TEAM}/pipelines/ordering`]: {
    body: '["p"]',
    probes: [
      { what: 'an object body', body: '{}', expect: [400], message: 'body' },
      { what: 'a number in the list', body: '[5]', expect: [400], message: 'body' },
      { what: 'an unknown pipeline', body: '["nope"]', expect: [404], message: '"nope"' },
    ],
  },
  [`PUT ${PIPE}/ordering`]: {
    body: '[{}]',
    probes: [
      { what: 'an object body', body: '{}', expect: [400], message: 'body' },
      { what: 'a string in the list', body: '["p"]', expect: [400], message: 'body' },
      { what: 'an unknown instance', body: '[{"branch":"nope"}]', expect: [404], message: 'branch:nope' },
    ],
  },
  [`DELETE ${RESOURCE}/cache`]: { probes: badBodies({ version: '"version":"v1"' }) },
  [`DELETE ${RESOURCE}/versions`]: { probes: [] },
  [`DELETE ${PIPE}/resource-types/:type/versions`]: { probes: [] },
  [`PUT ${PIPE}/jobs/:job/pause`]: { probes: [] },
  [`PUT ${PIPE}/jobs/:job/unpause`]: { probes: [] },
  [`GET ${API}/builds`]: {
    probes: [
      repeated('team'),
      repeated('pipeline'),
      repeated('job'),
      repeated('limit'),
      ...badLimits,
      repeated('since'),
      { what: 'a date as since', query: 'since=2024-05-01', expect: [400], message: '"since"' },
      { what: 'a negative until', query: 'until=-1', expect: [400], message: '"until"' },
    ],
  },
  [`GET ${API}/builds/:id`]: { id: buildIdText, probes: [] },
  [`POST ${TEAM}/artifacts`]: {
    probes: [{ what: 'JSON instead of an archive', body: '{}', expect: [415], message: 'octet-stream' }],
  },
  [`POST ${TEAM}/builds`]: {
    body: ONE_OFF,
    probes: [
      ...badBodies({
        config: '"config":5',
        inputs: `"config":"x","inputs":{}`,
        tags: '"config":"x","tags":"a"',
      }),
      {
        what: 'an invalid task config',
        body: '{"config":"platform: linux"}',
        expect: [400],
        message: 'run',
      },
      {
        what: 'a digest of no upload',
        body: `{"config":${JSON.stringify(ONE_OFF_CONFIG)},"inputs":[{"name":"src","digest":"sha256:${'0'.repeat(64)}"}]}`,
        expect: [404],
        message: 'uploaded archive',
      },
      {
        what: 'a malformed digest',
        body: `{"config":"x","inputs":[{"name":"src","digest":"abc"}]}`,
        expect: [400],
        message: '"inputs.0.digest"',
      },
      {
        what: 'a missing input',
        body: `{"config":${JSON.stringify(`${ONE_OFF_CONFIG}\ninputs: [{ name: src }]`)}}`,
        expect: [400],
        message: 'missing required input `src`',
      },
      {
        what: 'an unknown job for -j',
        body: `{"config":${JSON.stringify(ONE_OFF_CONFIG)},"inputsFrom":{"pipeline":"p","job":"nope"}}`,
        expect: [404],
      },
    ],
  },
  // Build 1 has no running or failed step: nothing to intercept (404), whatever the query says.
  [`POST ${API}/builds/:id/intercept`]: {
    id: buildIdText,
    probes: [
      { what: 'an unknown step type', query: 'type=shell', expect: [400], message: '"type"' },
      { what: 'attempt 0', query: 'attempt=0', expect: [400], message: '"attempt"' },
      { what: 'no running step', query: 'step=x', expect: [404], message: 'running or failed step' },
    ],
  },
  [`POST ${API}/containers/:id/intercept`]: {
    id: () => '999999',
    probes: [{ what: 'no such handle', expect: [404], message: 'container 999999 not found' }],
  },
  [`GET ${TEAM}/containers`]: { probes: [] },
  // Build 1 is a job's build, not a one-off: it has no downloadable outputs.
  [`GET ${API}/builds/:id/outputs/:output`]: { id: buildIdText, probes: [] },
  [`GET ${API}/builds/:id/plan`]: { id: buildIdText, probes: [] },
  [`PUT ${API}/builds/:id/abort`]: { id: buildIdText, probes: [] },
  [`GET ${API}/builds/:id/events`]: { id: buildIdText, probes: [] },
  [`GET ${API}/builds/:id/events/page`]: {
    id: buildIdText,
    probes: [
      repeated('limit'),
      ...badLimits,
      repeated('after'),
      ...['-1', '1.5', 'x', '0x1'].map((after) => ({
        what: `after=${after}`,
        query: `after=${after}`,
        expect: [400],
        message: '"after"',
      })),
      { what: 'tail=yes', query: 'tail=yes', expect: [400], message: '"tail"' },
      { what: 'log=no', query: 'log=no', expect: [400], message: '"log"' },
      ...['0', '-1', 'x'].map((n) => ({
        what: `line=${n}`,
        query: `step=a&line=${n}`,
        expect: [400],
        message: '"line"',
      })),
      { what: 'bytes=0', query: 'bytes=0', expect: [400], message: '"bytes"' },
      { what: 'a line without a step', query: 'line=3', expect: [400], message: 'step and line' },
      { what: 'a line of a step without log', query: 'step=nope&line=3', expect: [200] },
    ],
  },
  [`GET ${API}/builds/:id/log`]: {
    id: buildIdText,
    probes: [
      repeated('step'),
      { what: 'an empty step', query: 'step=', expect: [400], message: '"step"' },
      { what: 'a step the build lacks', query: 'step=nope', expect: [200] },
    ],
  },
  [`GET ${PIPE}/resources`]: { probes: [] },
  [`POST ${RESOURCE}/check`]: {
    probes: badBodies({ from: '"from":"v1"', 'from.ref': '"from":{"ref":1}' }),
  },
  [`POST ${PIPE}/resource-types/:type/check`]: {
    probes: badBodies({ from: '"from":["v1"]' }),
  },
  [`GET ${RESOURCE}/versions`]: { probes: [repeated('limit'), ...badLimits] },
  [`PUT ${VERSION}/enable`]: { id: absentVersion, probes: [] },
  [`PUT ${VERSION}/disable`]: { id: absentVersion, probes: [] },
  [`PUT ${VERSION}/pin`]: { id: absentVersion, probes: badBodies({ comment: '"comment":{}' }) },
  [`PUT ${RESOURCE}/unpin`]: { probes: [] },
  [`POST ${RESOURCE}/check/webhook`]: {
    public: true,
    probes: [
      { ...repeated('webhook_token'), what: 'a repeated webhook_token (an array)' },
      { what: 'a wrong webhook_token', query: 'webhook_token=nope', expect: [401] },
      { what: 'no webhook_token', expect: [401] },
    ],
  },
  [`GET ${API}/agents`]: { probes: [{ what: 'a stray query', query: 'x=1&x=2', expect: [200] }] },
  [`GET ${API}/queue`]: { probes: [{ what: 'a stray query', query: 'x=1&x=2', expect: [200] }] },
  [`GET ${API}/agent-tokens`]: { probes: [{ what: 'a stray query', query: 'x=1&x=2', expect: [200] }] },
  [`POST ${API}/agent-tokens`]: {
    probes: [
      { what: 'a token name with a space', body: '{"name":"a b"}', expect: [400], message: '"name"' },
      { what: 'an unknown team', body: '{"name":"x","team":"nope"}', expect: [404] },
      ...badBodies({ name: '"name":5', team: '"name":"x","team":7' }),
      { what: 'a null team', body: '{"name":"x","team":null}', expect: [400], message: '"team"' },
      { what: 'a list team', body: '{"name":"x","team":["main"]}', expect: [400], message: '"team"' },
      {
        what: 'an agent without cluster',
        body: '{"name":"x","agent":"a"}',
        expect: [400],
        message: '"agent"',
      },
      {
        what: 'both agent and agentPrefix',
        body: '{"name":"x","agent":"a/b","agentPrefix":"a/"}',
        expect: [400],
        message: 'not both',
      },
      {
        what: 'an unknown platform',
        body: '{"name":"x","platforms":["beos"]}',
        expect: [400],
        message: 'platforms',
      },
      {
        what: 'a capacity of 0',
        body: '{"name":"x","maxCapacity":0}',
        expect: [400],
        message: '"maxCapacity"',
      },
      {
        what: 'a pool list as text',
        body: '{"name":"x","pools":"linux"}',
        expect: [400],
        message: '"pools"',
      },
      {
        what: 'an expiry under a minute',
        body: '{"name":"x","expiresIn":5}',
        expect: [400],
        message: '"expiresIn"',
      },
      {
        what: 'an expiry as text',
        body: '{"name":"x","expiresIn":"1d"}',
        expect: [400],
        message: '"expiresIn"',
      },
      {
        what: 'an expiry in the past',
        body: '{"name":"x","expiresAt":1000}',
        expect: [400],
        message: 'expiresAt: 1970-01-01T00:00:01.000Z is not at least a minute from now',
      },
      {
        what: 'both expiries',
        body: '{"name":"x","expiresIn":600,"expiresAt":99999999999999}',
        expect: [400],
        message: 'not both',
      },
    ],
  },
  [`DELETE ${API}/agent-tokens/:id`]: { id: () => String(agentTokenId), probes: [] },
  [`POST ${API}/auth/token`]: {
    public: true,
    probes: [
      {
        what: 'an unknown user',
        body: '{"username":"nobody","password":"x","team":"main"}',
        expect: [401],
        message: 'wrong username or password',
      },
      ...badBodies({
        username: '"username":5,"password":"x","team":"main"',
        password: '"username":"a","password":"","team":"main"',
        team: '"username":"a","password":"x","team":[]',
      }),
    ],
  },
  // The admin token is an API token, not a login: nothing to renew.
  [`POST ${API}/auth/renew`]: { probes: [{ what: 'an API token', expect: [400], message: 'login tokens' }] },
  [`GET ${API}/user`]: { probes: [{ what: 'a stray query', query: 'x=1&x=2', expect: [200] }] },
  [`GET ${API}/teams`]: {
    public: true,
    probes: [
      { what: 'a stray query', query: 'x=1&x=2', expect: [200] },
      { what: 'an agent token', expect: [401], message: 'agent token' },
    ],
  },
  [`GET ${TEAM}`]: { probes: [] },
  [`PUT ${TEAM}`]: {
    body: '{"members":[]}',
    // "no such" is not a valid team name to create.
    unknownName: [400],
    probes: [
      {
        what: 'an unknown user',
        body: '{"members":[{"user":"nobody","role":"owner"}]}',
        expect: [400],
        message: '"nobody"',
      },
      ...badBodies({
        members: '"members":{}',
        'members.0.role': '"members":[{"user":"alice","role":"boss"}]',
      }),
    ],
  },
  [`PUT ${TEAM}/rename`]: {
    body: '{"name":"renamed"}',
    probes: [
      { what: 'main', body: '{"name":"renamed"}', expect: [409], message: 'admin team' },
      ...badBodies({ name: '"name":"Not Valid"' }),
    ],
  },
  [`DELETE ${TEAM}`]: { probes: [{ what: 'main', expect: [409], message: 'admin team' }] },
  [`GET ${API}/users`]: { probes: [{ what: 'a stray query', query: 'x=1&x=2', expect: [200] }] },
  [`PUT ${API}/users/:user`]: {
    body: '{"password":"a long enough password"}',
    // "no such" is not a valid user name.
    unknownName: [400],
    probes: [
      { what: 'a short password', body: '{"password":"short"}', expect: [400], message: '12 characters' },
      ...badBodies({ password: '"password":5' }),
    ],
  },
  [`GET ${TEAM}/api-tokens`]: { probes: [] },
  [`POST ${TEAM}/api-tokens`]: {
    body: '{"name":"t","role":"viewer","expiresIn":3600}',
    probes: badBodies({
      role: '"name":"t","role":"boss","expiresIn":60',
      expiresIn: '"name":"t","role":"viewer","expiresIn":1.5',
    }),
  },
  [`DELETE ${TEAM}/api-tokens/:id`]: { id: absentVersion, probes: [] },
};

/** Ids that are not build 1 (nor any record): each is a 400. */
const BAD_IDS = ['0x1', '1e0', '-1', '01', '1.0', '+1', 'abc', '9'.repeat(20)];

function pathOf(url: string, c: Case, params: Record<string, string> = {}): string {
  return url.replace(/:(\w+)/g, (_m, key: string) => {
    const value = params[key] ?? (key === 'id' ? c.id?.() : EXISTING[key]);
    if (value === undefined) throw new Error(`no value for :${key} in ${url}`);
    return encodeURIComponent(value);
  });
}

/** The generated probes every route gets, from the parameters in its url and its method. */
function generated(method: string, url: string, c: Case): Probe[] {
  const probes: Probe[] = [];
  for (const [, key] of url.matchAll(/:(\w+)/g)) {
    if (key === 'id') {
      for (const id of BAD_IDS)
        probes.push({
          what: `id ${id}`,
          params: { id },
          ...(c.body === undefined ? {} : { body: c.body }),
          expect: [400],
          message: 'whole number',
        });
    } else {
      // Any name is a string: an unknown one is not found (or, on the public webhook, unauthorized).
      probes.push({
        what: `unknown ${key}`,
        params: { [key!]: 'no such' },
        ...(c.body === undefined ? {} : { body: c.body }),
        expect: c.unknownName ?? (c.public ? [401] : [404]),
      });
    }
  }
  if (method !== 'GET')
    probes.push({ what: 'malformed JSON', body: '{"a":', expect: c.public ? [400, 401] : [400] });
  return probes;
}

async function send(method: string, path: string, probe: Probe, token: string | undefined) {
  const res = await fetch(`${hub.url}${path}${probe.query ? `?${probe.query}` : ''}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(probe.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: probe.body,
  });
  return { status: res.status, text: await res.text() };
}

beforeAll(async () => {
  hub = await startTestHub();
  const saved = await hub.api('PUT', '/teams/main/pipelines/p/config', { source: PIPELINE, file: 'p.yml' });
  expect(saved.status).toBe(200);
  buildId = await triggerJob(hub, 'p', 'j');
  agentToken = await hub.newAgentToken('probe');
  const list = await hub.api<{ id: number; name: string }[]>('GET', '/agent-tokens');
  agentTokenId = list.body.find((t) => t.name === 'probe')!.id;
}, 60_000);

afterAll(async () => {
  await hub.close();
});

describe('wrong types on every route', () => {
  it('has a case for every route the server serves, and no case for a route it does not', () => {
    const served = hub.apiRoutes.map((r) => `${r.method} ${r.url}`).sort();
    expect(served).toEqual(Object.keys(CASES).sort());
  });

  it('answers 400, 401 or 404 with a JSON message, never 500 or a stack trace', async () => {
    let sent = 0;
    const failures: string[] = [];
    for (const { method, url } of hub.apiRoutes) {
      const c = CASES[`${method} ${url}`];
      if (!c) continue; // the test above names it
      const probes = [...generated(method, url, c), ...c.probes];
      if (!c.public)
        probes.push({ what: 'no token', expect: [401] }, { what: 'an agent token', expect: [401] });
      for (const probe of probes) {
        const token =
          probe.what === 'no token'
            ? undefined
            : probe.what === 'an agent token'
              ? agentToken
              : hub.adminToken;
        const { status, text } = await send(method, pathOf(url, c, probe.params), probe, token);
        sent++;
        const where = `${method} ${url} with ${probe.what}: ${status} ${text.slice(0, 200)}`;
        if (!probe.expect.includes(status)) failures.push(`expected ${probe.expect.join('/')}; got ${where}`);
        if (/\bat .*:\d+:\d+|node_modules|\.ts:\d+/.test(text)) failures.push(`stack trace in ${where}`);
        if (status >= 400) {
          const body = JSON.parse(text) as Partial<ApiError>;
          if (typeof body.error?.message !== 'string') failures.push(`no error message in ${where}`);
          else if (probe.message && !body.error.message.includes(probe.message))
            failures.push(`message does not name ${probe.message} in ${where}`);
        }
      }
    }
    expect(failures).toEqual([]);
    console.log(`api-input: routes=${hub.apiRoutes.length} requests=${sent}`);
  }, 60_000);

  it('reads /builds/0x1 and /builds/1e0 as malformed ids, never as build 1', async () => {
    expect(buildId).toBe(1);
    for (const id of ['0x1', '1e0', '01'])
      expect(await hub.api('GET', `/builds/${id}`)).toEqual({
        status: 400,
        body: {
          error: {
            code: 'bad_request',
            message: 'path parameter "id": must be a whole number in decimal digits, like 42',
          },
        },
      });
    expect((await hub.api<{ id: number }>('GET', '/builds/1')).body.id).toBe(1);
  });

  it('tells a caller using an agent token on the API what it is', async () => {
    const res = await fetch(`${hub.url}/api/v1/info`, { headers: { authorization: `Bearer ${agentToken}` } });
    expect(res.status).toBe(401);
    const body = (await res.json()) as ApiError;
    expect(body.error.code).toBe('agent_token');
    expect(body.error.message).toMatch(/^this is an agent token .*; log in with an API token/);
  });
});
