// The step host: one small detached Node process per agent work root that supervises every process
// step of that agent (step-supervision.ts), so a step costs its own processes and a few kilobytes here
// instead of a Node process each. The agent starts it (`node step-host.js <workRoot>`) in its own
// session and process group, so the agent's death does not reach it, and talks to it over a socket
// (host-socket.ts): "start this step" with its launch spec (the environment never touches the disk),
// "look at abort.json". A restarted agent reconnects to the same host and follows its steps through
// their state dirs. The host exits once it supervises no step and no agent is connected.
//
// It imports node and its own folder's node-only modules: it runs from dist, or, under tsx, from a
// transpiled copy (supervisor-script.ts).
import { existsSync, mkdirSync, chmodSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { hostDirOf, readLines, socketPathOf, writeLine, type HostRequest } from './host-socket.js';
import { preciseNow } from './state.js';
import { StepSupervision } from './step-supervision.js';

// How often each step's abort.json is looked at, in case the agent's message never arrives.
const ABORT_POLL_MS = 250;
// A host no agent connects to (the one that spawned it died first) does not wait for ever.
const FIRST_CONNECTION_WAIT_MS = 10_000;

const workRoot = path.resolve(process.argv[2] ?? '');
if (!process.argv[2]) {
  process.stderr.write('usage: step-host <workRoot>\n');
  process.exit(2);
}

const steps = new Map<string, StepSupervision>();
const agents = new Set<net.Socket>();
/** Per step: the agents that read its log to the end and wait for more (see the 'follow' request). */
const followers = new Map<string, Set<net.Socket>>();
let stopping = false;

function maybeExit(): void {
  if (steps.size > 0 || agents.size > 0) return;
  server.close();
  process.exit(0);
}

/** Every step ends as aborted (an operator stopped the host); the host exits when they have. */
function stopAll(): void {
  stopping = true;
  for (const step of steps.values()) step.abortNow();
}

function insideWorkRoot(stateDir: string): boolean {
  const rel = path.relative(workRoot, stateDir);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

function handle(agent: net.Socket, request: HostRequest): void {
  const receivedAt = preciseNow();
  const stateDir = path.resolve(request.stateDir);
  if (request.op === 'abort') {
    steps.get(stateDir)?.checkAbort();
    return;
  }
  if (request.op === 'follow') {
    const step = steps.get(stateDir);
    // A step not supervised here (any more) gets no answer: its 'ended' went out, or its reader polls.
    if (!step) return;
    if (step.logBytes > request.offset) writeLine(agent, { op: 'output', stateDir });
    else followers.set(stateDir, (followers.get(stateDir) ?? new Set()).add(agent));
    return;
  }
  if (!insideWorkRoot(stateDir) || steps.has(stateDir) || stopping) {
    const why = stopping ? 'the step host is stopping' : `not a new step dir of ${workRoot}: ${stateDir}`;
    writeLine(agent, { id: request.id, ok: false, error: why });
    return;
  }
  let step: StepSupervision;
  try {
    step = new StepSupervision(stateDir, request.launch, process.pid);
  } catch (err) {
    writeLine(agent, { id: request.id, ok: false, error: (err as Error).message });
    return;
  }
  steps.set(stateDir, step);
  step.onOutput = () => {
    const waiting = followers.get(stateDir);
    if (!waiting) return;
    followers.delete(stateDir);
    for (const a of waiting) writeLine(a, { op: 'output', stateDir });
  };
  writeLine(agent, { id: request.id, ok: true, pid: process.pid, spawnedAt: step.spawnedAt, receivedAt });
  void step.done.then((result) => {
    steps.delete(stateDir);
    followers.delete(stateDir);
    for (const a of agents) writeLine(a, { op: 'ended', stateDir, result });
    maybeExit();
  });
}

const server = net.createServer((agent) => {
  agents.add(agent);
  clearTimeout(firstConnection);
  readLines(agent, (request) => handle(agent, request as HostRequest));
  agent.on('error', () => undefined);
  agent.on('close', () => {
    agents.delete(agent);
    maybeExit();
  });
});

const firstConnection = setTimeout(maybeExit, FIRST_CONNECTION_WAIT_MS);

process.on('SIGTERM', stopAll);
process.on('SIGINT', stopAll);
process.on('SIGHUP', () => undefined);
setInterval(() => {
  // A work root removed under the host (the agent's dir deleted, a test's teardown): nobody can
  // collect these steps any more.
  if (!existsSync(workRoot)) stopAll();
  for (const step of steps.values()) step.checkAbort();
}, ABORT_POLL_MS).unref();

function listen(): void {
  const socketPath = socketPathOf(workRoot);
  if (process.platform !== 'win32') {
    mkdirSync(hostDirOf(workRoot), { recursive: true, mode: 0o700 });
    // Left by a host that was killed: the agent spawns a host only when nobody answers there.
    rmSync(socketPath, { force: true });
  }
  server.listen(socketPath, () => {
    if (process.platform !== 'win32') chmodSync(socketPath, 0o600);
  });
}

server.on('error', (err) => {
  process.stderr.write(`step host: ${err.message}\n`);
  process.exit(1);
});
listen();
