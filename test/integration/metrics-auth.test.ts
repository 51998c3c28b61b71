// /metrics behind a token, and the admin token rotated through the API. /metrics answers the metrics
// token (`--metrics-token-file`) or an admin's API token; anyone else is refused; `--metrics-listen`
// serves it without a token on an address of its own. Rotating the admin token through the API revokes
// the old one at once and writes the new one to DATA_DIR/admin-token.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreatedApiToken, RotatedAdminToken } from '../../hub/api/types.js';
import { ADMIN_TOKEN_FILE } from '../../hub/auth/admin-token.js';
import { startTestHub, type TestHub } from '../support/harness.js';

const METRICS_TOKEN = 'a-metrics-token-for-prometheus';
let hub: TestHub;

beforeAll(async () => {
  hub = await startTestHub({ metricsToken: METRICS_TOKEN, metricsListen: { host: '127.0.0.1', port: 0 } });
}, 60_000);
afterAll(() => hub.close());

const scrape = (url: string, token?: string) =>
  fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });

describe('/metrics', () => {
  it('answers the metrics token and admins, and refuses everyone else', async () => {
    const ok = await scrape(`${hub.url}/metrics`, METRICS_TOKEN);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('outpost_hub_agents_connected');
    expect((await scrape(`${hub.url}/metrics`, hub.adminToken)).status).toBe(200);
    expect((await scrape(`${hub.url}/metrics`)).status).toBe(401);
    expect((await scrape(`${hub.url}/metrics`, 'not-the-metrics-token')).status).toBe(401);
    const viewer = (
      await hub.api<CreatedApiToken>('POST', '/teams/main/api-tokens', {
        name: 'v',
        role: 'viewer',
        expiresIn: 600,
      })
    ).body.token;
    const refused = await scrape(`${hub.url}/metrics`, viewer);
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain('metrics token or an admin');
  });

  it('serves it without a token on --metrics-listen, and nothing else there', async () => {
    expect(hub.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const open = await scrape(hub.metricsUrl!);
    expect(open.status).toBe(200);
    expect(await open.text()).toContain('outpost_hub_agents_connected');
    expect((await scrape(hub.metricsUrl!.replace('/metrics', '/api/v1/teams'))).status).toBe(404);
  });
});

describe('admin token rotation through the API', () => {
  it('revokes the old admin token at once and writes the new one to the data directory', async () => {
    const old = hub.adminToken;
    const res = await fetch(`${hub.url}/api/v1/admin-token/rotate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${old}` },
    });
    expect(res.status).toBe(200);
    const rotated = (await res.json()) as RotatedAdminToken;
    expect(rotated.revoked).toBe(1);
    expect(rotated.file).toBe(path.join(hub.dir, ADMIN_TOKEN_FILE));
    expect((await readFile(rotated.file!, 'utf8')).trim()).toBe(rotated.token);
    const user = (token: string) => scrape(`${hub.url}/api/v1/user`, token);
    expect((await user(old)).status).toBe(401);
    expect((await user(rotated.token)).status).toBe(200);
  });
});
