// An agent as a real child process (`node --import tsx agent/main.ts -c <config>`), for tests that kill
// or signal the agent process itself: restarts after SIGKILL, drains on SIGTERM.

import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestHub } from './harness.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface AgentProcessOptions {
  /** The agent's directory: config, token and work dir live here; reuse it to restart the "same" agent. */
  dir: string;
  token: string;
  name?: string;
  /** host:port to dial instead of the hub's gRPC port (e.g. a TcpProxy). */
  address?: string;
  drainTimeoutSeconds?: number;
  pools?: string;
  /** Environment variables over this process's (which never lends the agent its proxy variables). */
  env?: Record<string, string>;
  /** YAML for `hub.tls`; plaintext by default. */
  tls?: string;
  /** A built agent (e.g. an installed package's dist/agent/main.js) instead of the sources through tsx. */
  entry?: string;
}

// The tests' traffic is loopback only: a proxy set on the machine running them must not reroute it.
const PROXY_VARIABLES = /^(https?_proxy|no_proxy|grpc_proxy|no_grpc_proxy)$/i;

export interface AgentProcess {
  child: ChildProcess;
  /** Everything the process printed so far (pino JSON lines). */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /**
   * Resolves once the agent logged a line containing `text`; by default within 60 s, as a Node child
   * can take 20 s to start on a loaded 2-core machine (the chaos and HA suites wait as long).
   */
  logged(text: string, timeoutMs?: number): Promise<void>;
}

export async function writeAgentConfig(
  hub: Pick<TestHub, 'grpcPort'>,
  opts: AgentProcessOptions,
): Promise<string> {
  await mkdir(opts.dir, { recursive: true });
  await writeFile(path.join(opts.dir, 'token'), opts.token, { mode: 0o600 });
  const file = path.join(opts.dir, 'agent.yaml');
  await writeFile(
    file,
    `hub:
  address: ${opts.address ?? `127.0.0.1:${hub.grpcPort}`}
  tls:
${opts.tls ?? '    insecure_plaintext: true'}
token_file: token
name: ${opts.name ?? 'agent-proc'}
cluster: test
work_dir: work
drain_timeout_seconds: ${opts.drainTimeoutSeconds ?? 600}
pools:
${opts.pools ?? '  - name: local\n    platform: linux\n    capacity: 2'}
`,
  );
  return file;
}

export async function spawnAgentProcess(
  hub: Pick<TestHub, 'grpcPort'>,
  opts: AgentProcessOptions,
): Promise<AgentProcess> {
  const config = await writeAgentConfig(hub, opts);
  const main = opts.entry ? [opts.entry] : ['--import', 'tsx', 'agent/main.ts'];
  const child = spawn(process.execPath, [...main, '-c', config], {
    cwd: opts.entry ? opts.dir : ROOT,
    env: {
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !PROXY_VARIABLES.test(k))),
      OUTPOST_LOG_LEVEL: 'info',
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const l of listeners) l();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    output: () => out,
    exited,
    logged: (text, timeoutMs = 60_000) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!out.includes(text)) return;
          cleanup();
          resolve();
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`agent did not log ${JSON.stringify(text)} in ${timeoutMs} ms; output:\n${out}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      }),
  };
}

/** Linux: live (not zombie) processes whose command line or working directory is under `dir`. */
export function processesUnder(dir: string): string[] {
  if (process.platform !== 'linux') return [];
  const found: string[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if ('ZX'.includes(stat.slice(stat.lastIndexOf(')') + 2)[0] ?? 'X')) continue;
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ');
      let cwd = '';
      try {
        cwd = readlinkSync(`/proc/${name}/cwd`);
      } catch {
        // not ours to read
      }
      if (cmdline.includes(dir) || cwd.startsWith(dir)) found.push(`${name}: ${cmdline}`);
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

/** Waits (bounded) until no process runs under `dir`; returns the ones still there. */
export async function orphansUnder(dir: string, ms = 5_000): Promise<string[]> {
  let left = processesUnder(dir);
  for (const end = Date.now() + ms; left.length > 0 && Date.now() < end; left = processesUnder(dir)) {
    await new Promise((r) => setTimeout(r, 50));
  }
  return left;
}
