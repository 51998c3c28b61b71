// Hub and agent child processes running the built JavaScript, as deployed: the figures that depend on
// the hub having a process (and a core) of its own use these.

import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { readAdminToken } from '../hub/auth/admin-token.js';
import { HubApi, within } from './support.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SOURCE_DIRS = ['common', 'proto/gen', 'hub', 'agent', 'cli'];

const children = new Set<ChildProcess>();
// Last resort if the benchmark dies between spawn and its finally block.
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

async function newestMtime(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts') || entry.name.endsWith('.test.ts')) continue;
    newest = Math.max(newest, (await stat(path.join(entry.parentPath, entry.name))).mtimeMs);
  }
  return newest;
}

/** Runs `npm run build` when dist/ is missing or older than any source file. */
export async function ensureBuilt(): Promise<boolean> {
  const outputs = ['dist/hub/main.js', 'dist/agent/main.js'].map((f) => path.join(ROOT, f));
  const built = await Promise.all(
    outputs.map((f) =>
      stat(f).then(
        (s) => s.mtimeMs,
        () => 0,
      ),
    ),
  );
  const sources = Math.max(...(await Promise.all(SOURCE_DIRS.map((d) => newestMtime(path.join(ROOT, d))))));
  if (Math.min(...built) >= sources) return false;
  const child = spawn('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`npm run build failed (exit ${code})`);
  return true;
}

function spawnNode(args: string[]): ChildProcess {
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  // Always drain the pipes: a child blocked on a full stdout would stall and skew its memory.
  child.stderr.resume();
  return child;
}

export async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** Node.js flags from an environment variable, e.g. OUTPOST_BENCH_HUB_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' (docs/performance.md). */
const nodeArgs = (variable: string): string[] => process.env[variable]?.split(' ').filter(Boolean) ?? [];

/** Where a hub child's lines that are not its JSON log go (V8's traces), if anywhere. */
const traceFile = process.env.OUTPOST_BENCH_HUB_STDOUT_FILE;

/**
 * Starts `node dist/agent/main.js -c config`, with OUTPOST_BENCH_AGENT_NODE_ARGS before the script and
 * `agentArgs` (e.g. `--log-level debug`) after it.
 */
export function spawnAgent(config: string, agentArgs: string[] = []): ChildProcess {
  return spawnNode([
    ...nodeArgs('OUTPOST_BENCH_AGENT_NODE_ARGS'),
    'dist/agent/main.js',
    '-c',
    config,
    ...agentArgs,
  ]);
}

/**
 * Starts `node dist/hub/main.js` on ephemeral ports and waits for its `hub ready` log line. Its agent
 * gateway speaks plaintext, or TLS with `tls`. `nodeArgs` go before the script, after
 * OUTPOST_BENCH_HUB_NODE_ARGS (a bench's own preload, e.g. bench/hub-marks.ts).
 */
export async function spawnHub(
  dataDir: string,
  extraArgs: string[] = [],
  opts: { tls?: { certFile: string; keyFile: string }; nodeArgs?: string[] } = {},
): Promise<{ child: ChildProcess; url: string; grpcPort: number }> {
  const child = spawnNode([
    ...nodeArgs('OUTPOST_BENCH_HUB_NODE_ARGS'),
    ...(opts.nodeArgs ?? []),
    'dist/hub/main.js',
    '--data-dir',
    dataDir,
    '--http-listen',
    '127.0.0.1:0',
    '--grpc-listen',
    '127.0.0.1:0',
    ...(opts.tls
      ? ['--tls-cert', opts.tls.certFile, '--tls-key', opts.tls.keyFile]
      : ['--insecure-plaintext']),
    '--log-level',
    'info',
    ...extraArgs,
  ]);
  const stdout = child.stdout;
  if (!stdout) throw new Error('hub child has no stdout');
  const lines = createInterface({ input: stdout });
  const ready = new Promise<{ url: string; grpcPort: number }>((resolve, reject) => {
    lines.on('line', (text) => {
      if (!text.startsWith('{')) {
        // What V8 prints to stdout (--trace-gc, --trace-gc-nvp), kept when asked (docs/performance.md).
        if (traceFile) appendFileSync(traceFile, `${text}\n`);
        return;
      }
      const entry = JSON.parse(text) as { msg?: string; url?: string; grpcPort?: number };
      if (entry.msg === 'hub ready' && entry.url && entry.grpcPort)
        resolve({ url: entry.url, grpcPort: entry.grpcPort });
    });
    child.once('exit', (code) => reject(new Error(`hub exited (code ${code}) before it was ready`)));
  });
  return { child, ...(await within(20_000, 'hub child ready', ready)) };
}

export interface ChildHub {
  api: HubApi;
  agentToken: string;
  grpcAddress: string;
  pid: number;
  dataDir: string;
  close: () => Promise<void>;
}

/**
 * `node dist/hub/main.js` in a fresh data dir (building dist/ first if stale), logged in as admin.
 * `nodeArgs`: Node.js flags before the script (see spawnHub).
 */
export async function startChildHub(opts: { nodeArgs?: string[] } = {}): Promise<ChildHub> {
  await ensureBuilt();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-bench-hub-'));
  const dataDir = path.join(dir, 'hub');
  const started = await spawnHub(dataDir, [], { nodeArgs: opts.nodeArgs ?? [] });
  const close = async () => {
    await kill(started.child);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const adminToken = await readAdminToken(dataDir);
    const api = new HubApi(started.url, adminToken);
    return {
      api,
      agentToken: await api.createAgentToken('bench'),
      grpcAddress: `127.0.0.1:${started.grpcPort}`,
      pid: started.child.pid ?? 0,
      dataDir,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
