// `outpost login` through the hub's OpenID Connect provider, as fly does it: the CLI listens on a
// loopback port, prints the hub's login URL for the user's browser, and the hub sends the browser back
// to that port with the login token once the provider has said who the user is. No browser needs to run
// on this machine: any browser that can reach the hub and this port will do.

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CliContext } from './context.js';
import { CliError } from './io.js';
import { API_PREFIX } from '../hub/api/types.js';

export interface BrowserLogin {
  token: string;
  expiresAt: number;
}

/** Waits for the browser to come back with a token (or the hub's reason for refusing the login). */
export async function browserLogin(ctx: CliContext, hubUrl: string, team: string): Promise<BrowserLogin> {
  let settle: { resolve: (login: BrowserLogin) => void; reject: (err: Error) => void } | undefined;
  const done = new Promise<BrowserLogin>((resolve, reject) => (settle = { resolve, reject }));
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method !== 'GET' || url.pathname !== '/callback') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    const token = url.searchParams.get('token');
    const expiresAt = Number(url.searchParams.get('expiresAt'));
    const error = url.searchParams.get('error');
    if (token && Number.isFinite(expiresAt) && expiresAt > 0) {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('login successful: return to your terminal\n');
      settle?.resolve({ token, expiresAt });
    } else {
      const reason = error ?? 'the hub sent no token';
      res.writeHead(401, { 'content-type': 'text/plain' }).end(`login failed: ${reason}\n`);
      settle?.reject(new CliError(`login failed: ${reason}`));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  try {
    const cliRedirect = `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`;
    const login = new URL(`${hubUrl}${API_PREFIX}/auth/oidc/login`);
    login.searchParams.set('team', team);
    login.searchParams.set('cli_redirect', cliRedirect);
    ctx.out(`navigate to the following URL in your browser:\n\n  ${login.href}\n\n`);
    return await done;
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
