// `outpost quickstart`: the README's first command. Starts a hub and a local agent (process pool) as
// child processes on loopback, logs in, sets the example pipeline, triggers it and streams the build,
// then leaves both running until Ctrl-C. Everything lives in one directory, so a second run reuses the
// same hub, tokens and build history.
//
// The gRPC link between the two is plaintext: both ends are on 127.0.0.1 and the quickstart says so.
// A real installation uses TLS (docs/operations.md).

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { interpolate } from '../../hub/pipeline/interpolate.js';
import { ApiClient } from '../api-client.js';
import type { CliContext } from '../context.js';
import { CliError, sleep } from '../io.js';
import { getTarget, saveTarget, type Target } from '../targets.js';
import { ensureExampleRepo } from './example-repo.js';
import { streamBuild } from './watch.js';

interface QuickstartOptions {
  dir: string;
  httpPort: string;
  grpcPort: string;
  target: string;
  once?: boolean;
}

const PIPELINE = 'hello';
const JOB = 'hello';
const AGENT_NAME = 'local-agent';
const AGENT_CLUSTER = 'local';

/** The repository root: the nearest folder above this file with a package.json. */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new CliError('cannot find the Outpost package root');
    dir = parent;
  }
  return dir;
}

/** Runs a server entry point the same way this CLI runs: compiled JS, or TypeScript through tsx. */
function serverCommand(root: string, entry: 'hub' | 'agent'): string[] {
  const fromSource = import.meta.url.endsWith('.ts');
  return fromSource
    ? ['--import', 'tsx', path.join(root, entry, 'main.ts')]
    : [path.join(root, 'dist', entry, 'main.js')];
}

function startServer(root: string, entry: 'hub' | 'agent', args: string[], logFile: string): ChildProcess {
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(process.execPath, [...serverCommand(root, entry), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, OUTPOST_LOG_LEVEL: process.env.OUTPOST_LOG_LEVEL ?? 'info' },
  });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  return child;
}

async function tail(file: string, lines = 15): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Polls until `ready` says yes, failing early with the server's log if the process exits. */
async function waitFor(
  what: string,
  child: ChildProcess,
  logFile: string,
  ready: () => Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new CliError(
        `the ${what} exited (${child.exitCode ?? child.signalCode}); its log ends with:\n${await tail(logFile)}`,
      );
    }
    if (await ready().catch(() => false)) return;
    await sleep(100);
  }
  throw new CliError(
    `the ${what} did not become ready within ${timeoutMs / 1000}s; its log ends with:\n${await tail(logFile)}`,
  );
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

export function registerQuickstart(program: Command, ctx: CliContext): void {
  program
    .command('quickstart')
    .description('Start a local hub and agent, run the example pipeline, and leave them running')
    .option('--dir <dir>', 'where the hub and agent keep their data and logs', '.outpost/quickstart')
    .option('--http-port <port>', 'port of the hub API on 127.0.0.1', '8080')
    .option('--grpc-port <port>', 'port agents dial on 127.0.0.1', '7777')
    .option('--once', 'stop the hub and agent after the example build and exit with its status')
    .addHelpText(
      'after',
      `
Examples:
  npm start                       # builds, then runs: outpost quickstart
  outpost quickstart --http-port 9090 --grpc-port 9777`,
    )
    .action(async (opts: Omit<QuickstartOptions, 'target'>, cmd: Command) => {
      ctx.exitCode = await quickstart(ctx, {
        ...opts,
        target: ctx.targetName(cmd) === 'default' ? 'local' : ctx.targetName(cmd),
      });
    });
}

async function quickstart(ctx: CliContext, opts: QuickstartOptions): Promise<number> {
  const root = packageRoot();
  const dir = path.resolve(opts.dir);
  const hubDir = path.join(dir, 'hub');
  const agentDir = path.join(dir, 'agent');
  await mkdir(agentDir, { recursive: true, mode: 0o700 });
  const hubLog = path.join(dir, 'hub.log');
  const agentLog = path.join(dir, 'agent.log');
  const url = `http://127.0.0.1:${opts.httpPort}`;
  const dim = (s: string) => ctx.out(ctx.style.dim(s) + '\n');

  dim(`starting the hub at ${url} (data in ${hubDir}, log in ${hubLog})`);
  dim(`agent gateway on 127.0.0.1:${opts.grpcPort} in PLAINTEXT: fine on loopback, use TLS anywhere else`);
  const hub = startServer(
    root,
    'hub',
    [
      '--data-dir',
      hubDir,
      '--http-listen',
      `127.0.0.1:${opts.httpPort}`,
      '--grpc-listen',
      `127.0.0.1:${opts.grpcPort}`,
      '--insecure-plaintext',
    ],
    hubLog,
  );
  let agent: ChildProcess | undefined;
  const stopAll = async () => {
    if (agent) await stopServer(agent);
    await stopServer(hub);
  };
  try {
    await waitFor('hub', hub, hubLog, async () => (await fetch(`${url}/readyz`)).ok);

    const target = await loginTarget(ctx, opts.target, url, hubDir);
    const client = await ApiClient.create(target);

    const tokenFile = path.join(agentDir, 'token');
    if (!existsSync(tokenFile)) {
      const created = await client.createAgentToken({ name: AGENT_NAME });
      await writeFile(tokenFile, created.token + '\n', { mode: 0o600 });
    }
    const configFile = path.join(agentDir, 'agent.yaml');
    await writeFile(configFile, agentConfig(opts.grpcPort));
    dim(`starting a local agent with a process pool (log in ${agentLog})`);
    agent = startServer(root, 'agent', ['--config', configFile], agentLog);
    await waitFor('agent', agent, agentLog, async () =>
      // The hub knows an agent as CLUSTER/NAME.
      (await client.listAgents()).some(
        (a) => a.name === `${AGENT_CLUSTER}/${AGENT_NAME}` && a.state === 'connected',
      ),
    );

    const example = path.join(root, 'examples', 'hello.yml');
    // The example targets linux; on a macOS or Windows host the local pool offers that platform instead.
    const text = (await readFile(example, 'utf8')).replaceAll(
      'platform: linux',
      `platform: ${hostPlatform()}`,
    );
    // Its `git` resource checks out a local repository made here: no network needed.
    const repoUri = await ensureExampleRepo(path.join(dir, 'repo'));
    const { source } = interpolate(text, { repo_uri: repoUri }, example);
    await client.setPipelineConfig(PIPELINE, { source, file: path.relative(process.cwd(), example) });
    await client.setPipelinePaused(PIPELINE, false);
    const build = await client.triggerJob(PIPELINE, JOB);
    ctx.out(`started ${PIPELINE}/${JOB} #${build.name}\n`);
    const code = await streamBuild(ctx, client, build.id, { timestamps: false });

    if (opts.once) return code;
    const cli = path.relative(process.cwd(), path.join(root, 'outpost')) || './outpost';
    const run = cli.includes('/') ? cli : `./${cli}`;
    ctx.out(`
The hub is running at ${url}; the CLI is logged in as target "${opts.target}" with the admin token
the hub wrote to ${path.join(hubDir, HUB_ADMIN_TOKEN_FILE)} (to log in elsewhere:
  ${run} login -t ${opts.target} --url ${url} --token - < ${path.join(hubDir, HUB_ADMIN_TOKEN_FILE)}).
Web UI: ${url}/ (sign in with that admin token); this build: ${url}/builds/${build.id}
Try, in another terminal:
  ${run} -t ${opts.target} builds
  ${run} -t ${opts.target} agents
  ${run} -t ${opts.target} trigger-job -j ${PIPELINE}/${JOB} -w
  ${run} -t ${opts.target} set-pipeline -p ${PIPELINE} -c examples/hello.yml -v repo_uri=${repoUri}
Logs: ${hubLog}, ${agentLog}. Press Ctrl-C to stop the hub and the agent.
`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
      hub.once('exit', () => resolve());
    });
    dim('stopping the agent and the hub');
    return 0;
  } finally {
    await stopAll();
  }
}

/** Where the hub writes its admin token (mode 0600) in its data directory; it never prints it. */
const HUB_ADMIN_TOKEN_FILE = 'admin-token';

/** Reuses the saved target when its token still works, else logs in with the hub's admin token file. */
async function loginTarget(ctx: CliContext, name: string, url: string, hubDir: string): Promise<Target> {
  try {
    const saved = await getTarget(ctx.io.env, name);
    if (saved.url === url) {
      await (await ApiClient.create(saved)).userInfo();
      return saved;
    }
  } catch {
    // No saved target, or its token no longer works: fall through to the bootstrap token.
  }
  const tokenFile = path.join(hubDir, HUB_ADMIN_TOKEN_FILE);
  let token: string;
  try {
    token = (await readFile(tokenFile, 'utf8')).trim();
  } catch {
    throw new CliError(
      `target "${name}" has no working token and ${tokenFile} is gone; stop this quickstart, write a new one with \`outpost-hub rotate-admin-token --data-dir ${hubDir}\` (in a checkout: node dist/hub/main.js rotate-admin-token ...) and run it again`,
    );
  }
  const target: Target = { url, token, team: 'main' };
  await saveTarget(ctx.io.env, name, target);
  return target;
}

function hostPlatform(): string {
  return process.platform === 'win32' ? 'windows' : process.platform;
}

function agentConfig(grpcPort: string): string {
  return `# Written by \`outpost quickstart\`: a local agent with one process pool on this host.
hub:
  address: 127.0.0.1:${grpcPort}
  tls:
    insecure_plaintext: true # loopback only
token_file: token
name: ${AGENT_NAME}
cluster: ${AGENT_CLUSTER}
work_dir: work
pools:
  - name: local
    capacity: 4
`;
}
