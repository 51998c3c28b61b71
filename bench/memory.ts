// (e) Memory of the real processes (built JavaScript, as deployed): a hub child process, a real agent
// child process idling against it, then 1,000 protocol-level agent sessions from this process, each on
// its own HTTP/2 connection. RSS is read from /proc. Child processes are always killed on the way out.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { agentConfigYaml } from './build.js';
import { BenchAgent } from './proto-agent.js';
import { HubApi, rssMb, sleep, within } from './support.js';

export interface MemoryResult {
  agentIdleRssMb: number;
  hubIdleRssMb: number;
  hubRssMb1000Agents: number;
  hubPeakRssMb: number;
  agents: number;
  /** Seconds to open every session and see the API list them all. */
  connectSeconds: number;
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SOURCE_DIRS = ['common', 'proto/gen', 'hub', 'agent', 'cli'];
const AGENTS = 1_000;
/** Sessions opened at once: enough to be quick, few enough not to trip the hub's Hello timeout. */
const CONNECT_BATCH = 100;
const IDLE_MS = 2_000;

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

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** Starts `node dist/hub/main.js` on ephemeral ports and waits for its `hub ready` log line. */
async function spawnHub(dataDir: string): Promise<{ child: ChildProcess; url: string; grpcPort: number }> {
  const child = spawnNode([
    'dist/hub/main.js',
    '--data-dir',
    dataDir,
    '--http-listen',
    '127.0.0.1:0',
    '--grpc-listen',
    '127.0.0.1:0',
    '--insecure-plaintext',
    '--log-level',
    'info',
  ]);
  const stdout = child.stdout;
  if (!stdout) throw new Error('hub child has no stdout');
  const lines = createInterface({ input: stdout });
  const ready = new Promise<{ url: string; grpcPort: number }>((resolve, reject) => {
    lines.on('line', (text) => {
      // The hub also prints its initial admin token as plain text; only JSON lines are logs.
      if (!text.startsWith('{')) return;
      const entry = JSON.parse(text) as { msg?: string; url?: string; grpcPort?: number };
      if (entry.msg === 'hub ready' && entry.url && entry.grpcPort)
        resolve({ url: entry.url, grpcPort: entry.grpcPort });
    });
    child.once('exit', (code) => reject(new Error(`hub exited (code ${code}) before it was ready`)));
  });
  return { child, ...(await within(20_000, 'hub child ready', ready)) };
}

async function waitForAgents(api: HubApi, count: number, timeoutMs: number): Promise<void> {
  await within(
    timeoutMs,
    `${count} agents listed as connected`,
    (async () => {
      while ((await api.connectedAgents()) < count) await sleep(100);
    })(),
  );
}

export async function measureMemory(): Promise<MemoryResult> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'outpost-bench-mem-'));
  let hub: ChildProcess | undefined;
  let agent: ChildProcess | undefined;
  const sessions: BenchAgent[] = [];
  try {
    const dataDir = path.join(dir, 'hub');
    const started = await spawnHub(dataDir);
    hub = started.child;
    const hubPid = hub.pid ?? 0;
    const adminToken = (await readFile(path.join(dataDir, 'initial-admin-token'), 'utf8')).trim();
    const api = new HubApi(started.url, adminToken);
    const agentToken = await api.createAgentToken('bench-memory');
    const grpcAddress = `127.0.0.1:${started.grpcPort}`;
    await sleep(IDLE_MS);
    const hubIdleRssMb = await rssMb(hubPid);

    // A real agent process, idle after its handshake.
    const agentDir = path.join(dir, 'agent');
    await mkdir(agentDir);
    await writeFile(path.join(agentDir, 'token'), agentToken, { mode: 0o600 });
    const config = path.join(agentDir, 'agent.yaml');
    await writeFile(config, agentConfigYaml(grpcAddress, 'idle-agent', path.join(agentDir, 'work')));
    agent = spawnNode(['dist/agent/main.js', '-c', config]);
    agent.stdout?.resume();
    await waitForAgents(api, 1, 20_000);
    await sleep(IDLE_MS);
    const agentIdleRssMb = await rssMb(agent.pid ?? 0);
    await kill(agent);

    // 1,000 idle sessions, each on its own connection, heartbeating at the Welcome's interval.
    const start = Date.now();
    for (let i = 0; i < AGENTS; i += CONNECT_BATCH) {
      const batch = Array.from(
        { length: Math.min(CONNECT_BATCH, AGENTS - i) },
        (_, j) =>
          new BenchAgent({
            address: grpcAddress,
            token: agentToken,
            name: `mem-agent-${i + j}`,
            capacity: 4,
            ownConnection: true,
            handlers: {},
          }),
      );
      sessions.push(...batch);
      await within(30_000, 'memory sessions welcome', Promise.all(batch.map((s) => s.welcome)));
    }
    await waitForAgents(api, AGENTS, 30_000);
    const connectSeconds = (Date.now() - start) / 1000;
    await sleep(IDLE_MS);
    return {
      agentIdleRssMb,
      hubIdleRssMb,
      hubRssMb1000Agents: await rssMb(hubPid),
      hubPeakRssMb: await rssMb(hubPid, 'VmHWM'),
      agents: AGENTS,
      connectSeconds,
    };
  } finally {
    for (const session of sessions) session.close();
    if (agent) await kill(agent);
    if (hub) await kill(hub);
    await rm(dir, { recursive: true, force: true });
  }
}
