// The audit log through the API: who did what (done or refused), readable by admins and by a team's
// owners for their team only, filtered by user and time, and pruned by the garbage collection once older
// than the retention.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntrySummary, LoginResponse } from '../../hub/api/types.js';
import { collectGarbage } from '../../hub/artifacts/gc.js';
import { startTestHub, type TestHub } from '../support/harness.js';

let hub: TestHub;
const tokens: Record<string, string> = {};

async function call(token: string | undefined, method: string, path: string, body?: unknown) {
  const res = await fetch(`${hub.url}/api/v1${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as unknown };
}

beforeAll(async () => {
  hub = await startTestHub();
  for (const user of ['ann', 'val'])
    await hub.api('PUT', `/users/${user}`, { password: `${user}-long-password` });
  await hub.api('PUT', '/teams/alpha', {
    members: [
      { user: 'ann', role: 'owner' },
      { user: 'val', role: 'viewer' },
    ],
  });
  await hub.api('PUT', '/teams/beta', { members: [] });
  for (const user of ['ann', 'val']) {
    const res = await call(undefined, 'POST', '/auth/token', {
      username: user,
      password: `${user}-long-password`,
      team: 'alpha',
    });
    tokens[user] = (res.body as LoginResponse).token;
  }
  await call(undefined, 'POST', '/auth/token', {
    username: 'ann',
    password: 'wrong password!',
    team: 'alpha',
  });
  await call(tokens.ann, 'PUT', '/teams/alpha/pipelines/p/config', { source: 'jobs: [{name: j, plan: []}]' });
  await call(tokens.val, 'PUT', '/teams/alpha/pipelines/p/pause');
  await hub.api('PUT', '/teams/beta/pipelines/q/config', { source: 'jobs: [{name: j, plan: []}]' });
}, 60_000);
afterAll(() => hub.close());

const line = (e: AuditEntrySummary) => `${e.user} ${e.team ?? '-'} ${e.action} ${e.status}`;

describe('audit log', () => {
  it('records logins and changes, done or refused, with the address and path', async () => {
    const all = (await hub.api<AuditEntrySummary[]>('GET', '/audit')).body;
    expect(all.map(line)).toEqual(
      expect.arrayContaining([
        'ann alpha login 200',
        'ann alpha login 401',
        'ann alpha set-pipeline 200',
        'val alpha pause-pipeline 403',
        'token:admin beta set-pipeline 200',
        'token:admin alpha set-team 201',
      ]),
    );
    const saved = all.find((e) => e.action === 'set-pipeline' && e.team === 'alpha')!;
    expect(saved).toMatchObject({ target: '/api/v1/teams/alpha/pipelines/p/config', source: '127.0.0.1' });
    // Newest first.
    expect(all.map((e) => e.id)).toEqual([...all.map((e) => e.id)].sort((a, b) => b - a));
  });

  it("shows an owner their team's entries only, and refuses a viewer", async () => {
    const own = await call(tokens.ann, 'GET', '/audit');
    expect(own.status).toBe(200);
    const entries = own.body as AuditEntrySummary[];
    expect(entries.length).toBeGreaterThan(0);
    expect(entries.every((e) => e.team === 'alpha')).toBe(true);
    expect((await call(tokens.ann, 'GET', '/audit?team=beta')).status).toBe(404);
    expect((await call(tokens.val, 'GET', '/audit')).status).toBe(403);
    expect((await call(tokens.val, 'GET', '/audit?team=alpha')).status).toBe(403);
    expect((await call(undefined, 'GET', '/audit')).status).toBe(401);
  });

  it('filters by user and time', async () => {
    const byVal = (await hub.api<AuditEntrySummary[]>('GET', '/audit?user=val')).body;
    expect(new Set(byVal.map((e) => e.user))).toEqual(new Set(['val']));
    const later = (await hub.api<AuditEntrySummary[]>('GET', `/audit?since=${Date.now() + 60_000}`)).body;
    expect(later).toEqual([]);
  });

  it('lets the garbage collection prune entries older than the retention', async () => {
    const before = (await hub.api<AuditEntrySummary[]>('GET', '/audit?limit=1000')).body.length;
    const kept = await collectGarbage(hub.store, hub.artifacts, {
      now: Date.now(),
      minArtifactAgeMs: 60_000,
      auditLogRetentionMs: hub.options.auditLogRetentionMs,
    });
    expect(kept.auditEntries).toBe(0);
    const pruned = await collectGarbage(hub.store, hub.artifacts, {
      now: Date.now() + 1000,
      minArtifactAgeMs: 60_000,
      auditLogRetentionMs: 0,
    });
    // The GET above was not recorded (reads are not audited): everything before it goes.
    expect(pruned.auditEntries).toBe(before);
    expect((await hub.api<AuditEntrySummary[]>('GET', '/audit')).body).toEqual([]);
  });
});
