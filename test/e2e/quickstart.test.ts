// The README's first command, as a new user runs it: a hub and an agent as real child processes,
// the example pipeline set, triggered and streamed to the terminal.

import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { readAdminToken } from '../../hub/auth/admin-token.js';
import { readLogLines } from '../support/log-lines.js';

const root = path.resolve(import.meta.dirname, '../..');
const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function quickstart(
  dir: string,
  httpPort: number,
  grpcPort: number,
): Promise<{ code: number | null; out: string }> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'cli/main.ts',
      'quickstart',
      '--once',
      '--dir',
      dir,
      '--http-port',
      String(httpPort),
      '--grpc-port',
      String(grpcPort),
    ],
    {
      cwd: root,
      env: { ...process.env, OUTPOST_CONFIG: path.join(dir, 'cli.yaml') },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, out })));
}

it('starts a hub and an agent, runs the example build to success, and reuses them on a second run', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-quickstart-'));
  dirs.push(dir);
  const [httpPort, grpcPort] = [await freePort(), await freePort()];

  const first = await quickstart(dir, httpPort, grpcPort);
  expect(first.out).toContain('started hello/hello #1');
  expect(first.out).toContain('Hello from Outpost');
  // The example's git resource checked out the local repository the quickstart made.
  expect(first.out).toMatch(/checked out commit [0-9a-f]{7}: Add hello\.sh/);
  expect(first.out).toContain('Hello from the example repository');
  // A newcomer's first build shows no git noise (a repository without submodules is not asked for them).
  expect(first.out).not.toContain('fatal:');
  expect(first.out).toContain('step 5 of 5');
  expect(first.out.trimEnd().endsWith('succeeded')).toBe(true);
  expect(first.code).toBe(0);
  expect(await readFile(path.join(dir, 'cli.yaml'), 'utf8')).toContain(`url: http://127.0.0.1:${httpPort}`);

  const second = await quickstart(dir, httpPort, grpcPort);
  expect(second.out).toContain('started hello/hello #2');
  expect(second.code).toBe(0);

  // Logged in as target "local" with the hub's admin token, which no output or log file shows.
  const token = await readAdminToken(path.join(dir, 'hub'));
  const cli = await readFile(path.join(dir, 'cli.yaml'), 'utf8');
  expect(cli).toMatch(/^targets:\n {2}local:\n/);
  expect(cli).toContain(token);
  const hubLog = await readFile(path.join(dir, 'hub.log'), 'utf8');
  const agentLog = await readFile(path.join(dir, 'agent.log'), 'utf8');
  for (const text of [first.out, second.out, hubLog, agentLog]) expect(text).not.toContain(token);
  // Both logs are JSON lines only, with no key twice.
  expect(readLogLines(hubLog).problems).toEqual([]);
  expect(readLogLines(agentLog).problems).toEqual([]);
}, 120_000);
