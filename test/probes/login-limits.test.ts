// Password guessing from outside (docs/security.md, "Also"): from many addresses at one user name, and
// all at once from one address. Callers come from several loopback addresses (127.0.0.2, ...), all
// dialling the hub on 127.0.0.1, as callers behind different addresses would.

import { request } from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/harness.js';

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
  for (const user of ['alice', 'bob', 'carol']) {
    const res = await hub.api('PUT', `/users/${user}`, { password: `${user}-password!` });
    expect(res.status).toBe(201);
  }
  const team = await hub.api('PUT', '/teams/alpha', {
    members: ['alice', 'bob', 'carol'].map((user) => ({ user, role: 'member' })),
  });
  expect(team.status).toBeLessThan(300);
});
afterAll(async () => {
  await hub.close();
});

/** POST /auth/token from `from` (a loopback address); the status and the error message if any. */
function login(
  from: string,
  username: string,
  password: string,
): Promise<{ status: number; message: string }> {
  const { hostname, port } = new URL(hub.url);
  const body = JSON.stringify({ team: 'alpha', username, password });
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: hostname,
        port,
        method: 'POST',
        path: '/api/v1/auth/token',
        localAddress: from,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          const parsed = JSON.parse(text) as { error?: { message: string } };
          resolve({ status: res.statusCode ?? 0, message: parsed.error?.message ?? '' });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

it("refuses a user name guessed at from many addresses, but not from the user's own", async () => {
  // Alice logs in from her machine once: that address is hers from now on.
  expect((await login('127.0.0.1', 'alice', 'alice-password!')).status).toBe(200);

  // Twenty wrong guesses spread over four addresses: none reaches its own limit of 10 a minute.
  for (let i = 0; i < 20; i++) {
    const res = await login(`127.0.0.${2 + (i % 4)}`, 'alice', `guess-${i}`);
    expect({ i, status: res.status }).toEqual({ i, status: 401 });
  }
  // The name is now refused to anyone else, even with the right password, and says for how long.
  const refused = await login('127.0.0.6', 'alice', 'alice-password!');
  expect(refused.status).toBe(429);
  expect(refused.message).toMatch(/^too many failed logins for user "alice"; try again in \d+s$/);
  // An attacker cannot lock alice out: her own address still logs her in.
  expect((await login('127.0.0.1', 'alice', 'alice-password!')).status).toBe(200);
  // And other users are not affected.
  expect((await login('127.0.0.6', 'bob', 'bob-password!')).status).toBe(200);
});

it('counts guesses sent all at once from one address before their passwords are checked', async () => {
  const answers = await Promise.all(
    Array.from({ length: 30 }, (_, i) => login('127.0.0.9', 'carol', `guess-${i}`)),
  );
  const statuses = answers.map((a) => a.status);
  // Ten a minute per address: the other twenty are refused without a password check.
  expect(statuses.filter((s) => s === 401)).toHaveLength(10);
  expect(statuses.filter((s) => s === 429)).toHaveLength(20);
});
