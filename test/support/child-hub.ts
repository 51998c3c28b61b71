// A hub in a child process (`node --import tsx hub/main.ts`, no build needed), for tests that need real
// signals: SIGTERM drains, exit bounds, restarts on the same data directory and ports.

import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { readAdminToken } from '../../hub/auth/admin-token.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface ChildHubProcess {
  child: ChildProcess;
  url: string;
  grpcPort: number;
  /** Every JSON log line the hub printed so far. */
  logs: { msg?: string; [key: string]: unknown }[];
  /** Resolves with the exit code (or the signal) once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Everything the hub wrote to stdout and stderr so far, JSON log lines included. */
  output(): string;
  /** Resolves once the hub logged (or has logged) a line whose message contains `text`. */
  logged(text: string): Promise<void>;
}

/** The hub child exited before it logged `hub ready`. */
export class ChildHubExitedError extends Error {
  constructor(
    readonly code: number | null,
    readonly stderr: string,
  ) {
    super(`hub exited (code ${code}) before it was ready: ${stderr}`);
    this.name = 'ChildHubExitedError';
  }
}

/** Starts a hub child on `dataDir`; ports 0 pick free ones. Resolves once it logs `hub ready`. */
export async function spawnChildHub(
  dataDir: string,
  opts: {
    httpPort?: number;
    grpcPort?: number;
    args?: string[];
    readyTimeoutMs?: number;
    /** A built hub (e.g. an installed package's dist/hub/main.js) instead of the sources through tsx. */
    entry?: string;
    /** The gateway's certificate and key (--tls-cert, --tls-key); plaintext without them. */
    tls?: { certFile: string; keyFile: string };
    /** Environment variables over this process's (e.g. OUTPOST_DATABASE_URL). */
    env?: Record<string, string>;
  } = {},
): Promise<ChildHubProcess> {
  const child = spawn(
    process.execPath,
    [
      ...(opts.entry ? [opts.entry] : ['--import', 'tsx', 'hub/main.ts']),
      '--data-dir',
      dataDir,
      '--http-listen',
      `127.0.0.1:${opts.httpPort ?? 0}`,
      '--grpc-listen',
      `127.0.0.1:${opts.grpcPort ?? 0}`,
      ...(opts.tls
        ? ['--tls-cert', opts.tls.certFile, '--tls-key', opts.tls.keyFile]
        : ['--insecure-plaintext']),
      ...(opts.args ?? []),
    ],
    // A built entry runs outside the repository, so nothing resolves from its node_modules.
    {
      cwd: opts.entry ? dataDir : ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}),
    },
  );
  const logs: ChildHubProcess['logs'] = [];
  const watchers: { text: string; resolve: () => void }[] = [];
  let stderr = '';
  let output = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    output += d.toString();
  });
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const ready = new Promise<{ url: string; grpcPort: number }>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (text) => {
      if (!text.startsWith('{')) return;
      const entry = JSON.parse(text) as { msg?: string; url?: string; grpcPort?: number };
      logs.push(entry);
      for (const w of [...watchers]) {
        if (!entry.msg?.includes(w.text)) continue;
        watchers.splice(watchers.indexOf(w), 1);
        w.resolve();
      }
      if (entry.msg === 'hub ready' && entry.url && entry.grpcPort)
        resolve({ url: entry.url, grpcPort: entry.grpcPort });
    });
    void exited.then(({ code }) => reject(new ChildHubExitedError(code, stderr)));
    // Not started at all (a cwd that does not exist, no node): no exit event follows.
    child.once('error', reject);
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`hub child not ready in time; its output ends:\n${output.slice(-3000)}`)),
      opts.readyTimeoutMs ?? 30_000,
    );
  });
  try {
    const logged = (text: string) =>
      logs.some((l) => l.msg?.includes(text))
        ? Promise.resolve()
        : new Promise<void>((resolve) => watchers.push({ text, resolve }));
    return { child, logs, exited, output: () => output, logged, ...(await Promise.race([ready, timeout])) };
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** The admin token a child hub wrote on its first start (it never prints it). */
export const adminTokenOf = readAdminToken;

/** SIGKILLs a child hub unless it has exited (for test cleanups). */
export function killChildHub(hub: ChildHubProcess): void {
  if (hub.child.exitCode === null && hub.child.signalCode === null) hub.child.kill('SIGKILL');
}

/** Calls a child hub's API with a token. */
export async function callApi<T = unknown>(
  url: string,
  token: string,
  method: string,
  route: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${url}/api/v1${route}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}
