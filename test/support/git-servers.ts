// Real git servers on 127.0.0.1 ephemeral ports for the git resource's tests: `git http-backend`
// behind a small Node HTTP server that demands basic auth (smart HTTP, fetch and push), and the git
// protocol served by `git daemon --inetd` per connection (so the port is the kernel's, with no race).

import { spawn, execFileSync } from 'node:child_process';
import { createServer as createHttpServer, type RequestListener, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';

export interface GitServer {
  /** The URL of `<root>/<name>`, e.g. http://127.0.0.1:PORT/app.git. */
  url(name: string): string;
  /** Basic-auth headers the server rejected (wrong or missing credentials). */
  rejected: number;
  close(): Promise<void>;
}

/**
 * Serves the repositories under `root` over smart HTTP; every request needs `user`:`password`. With
 * `tls` (a PEM key and certificate) it serves HTTPS.
 */
export async function startGitHttpServer(
  root: string,
  user: string,
  password: string,
  tls?: { key: string; cert: string },
): Promise<GitServer> {
  const expected = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const state = { rejected: 0 };
  const handler: RequestListener = (req, res) => {
    if (req.headers.authorization !== expected) {
      state.rejected++;
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"' }).end('authentication required\n');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    const cgi = spawn('git', ['http-backend'], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: '1',
        REQUEST_METHOD: req.method ?? 'GET',
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        HTTP_CONTENT_ENCODING: req.headers['content-encoding'] ?? '',
        GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
        REMOTE_USER: user, // lets http-backend accept pushes
        REMOTE_ADDR: '127.0.0.1',
      },
    });
    req.pipe(cgi.stdin);
    let head = Buffer.alloc(0);
    let headerDone = false;
    cgi.stdout.on('data', (chunk: Buffer) => {
      if (headerDone) {
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      headerDone = true;
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of head.subarray(0, end).toString('utf8').split('\r\n')) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon).trim();
        const value = line.slice(colon + 1).trim();
        if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10);
        else headers[name] = value;
      }
      res.writeHead(status, headers);
      res.write(head.subarray(end + 4));
    });
    cgi.stdout.on('end', () => res.end());
    cgi.on('error', () => res.destroy());
  };
  const server: HttpServer = tls ? createHttpsServer(tls, handler) : createHttpServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (name) => `${tls ? 'https' : 'http'}://127.0.0.1:${port}/${name}`,
    get rejected() {
      return state.rejected;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Serves the repositories under `root` over git:// (fetch and push), one `git daemon --inetd` each. */
export async function startGitDaemon(root: string): Promise<GitServer> {
  const server: TcpServer = createTcpServer((socket) => {
    const daemon = spawn(
      'git',
      ['daemon', '--inetd', `--base-path=${root}`, '--export-all', '--enable=receive-pack', root],
      { stdio: ['pipe', 'pipe', 'ignore'] },
    );
    socket.pipe(daemon.stdin);
    daemon.stdout.pipe(socket);
    socket.on('error', () => daemon.kill());
    daemon.stdin.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (name) => `git://127.0.0.1:${port}/${name}`,
    rejected: 0,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Runs git in `cwd` with a fixed identity and returns its trimmed stdout (throws on failure). */
export function gitIn(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: cwd,
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_AUTHOR_NAME: 'Ada',
      GIT_AUTHOR_EMAIL: 'ada@example.com',
      GIT_COMMITTER_NAME: 'Ada',
      GIT_COMMITTER_EMAIL: 'ada@example.com',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}
