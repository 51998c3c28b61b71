// Assembles an agent from its config: executors per pool, the step runner, the hub session and the
// optional metrics endpoint. main.ts (the process) and the tests both start agents through here.

import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { ChannelCredentials } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { ReloadingTlsFiles } from '../common/tls-reload.js';
import { platformToWire, verdictToWire } from '../common/wire-enums.js';
import type { AgentConfig } from './config.js';
import type { Admission, Executor } from './executors/executor.js';
import {
  checkReachable,
  fenceWorkDir,
  ProcessExecutor,
  resolveRunAs,
  RunAsError,
  type StepUser,
} from './executors/process/index.js';
import { refuseSecretEnv } from './executors/secret-env.js';
import { RootfsCache } from './images/rootfs-cache.js';
import { createAgentMetrics, type AgentMetrics } from './metrics.js';
import { StepRunner, type PoolRuntime } from './runner.js';
import { GatewayClient } from './session/gateway-client.js';
import { hubChannelCredentials } from './session/channel-credentials.js';
import type { HubTarget } from './session/hub-target.js';
import { HubSession } from './session/session.js';
import { HubCallMetadata } from './session/call-metadata.js';
import { ArtifactCache } from './artifacts/cache.js';
import { TaskCaches } from './task-caches.js';
import { DataEndpoint } from './executors/kubernetes/data-endpoint.js';
import { ArtifactTransfer } from './artifacts/transfer.js';
import { BuiltinResourceExecutor, BUILTINS } from './resources/index.js';

export const AGENT_VERSION = '0.1.0';
/** gRPC message size limit, as the hub's default: the channel exists before the Welcome says the hub's. */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/**
 * grpc-js's own reconnect backoff for the hub's channel. Its default grows to 120 s, and while it waits
 * every session attempt fails at once with the last error: an agent whose hub was down for a minute
 * (an upgrade) came back up to a minute after the hub did, near the lease grace (2 m) that keeps its
 * steps. Capped at 2 s, the hub's return is seen within 2 s; the session's own jittered backoff
 * (up to 10 s) still spreads a fleet's reconnections.
 */
export const HUB_RECONNECT_BACKOFF = {
  'grpc.initial_reconnect_backoff_ms': 1_000,
  'grpc.max_reconnect_backoff_ms': 2_000,
} as const;
/** How often hub.tls's ca_file, cert_file and key_file are checked for a change (small files: cheap). */
const TLS_RELOAD_MS = 2_000;

export interface RunningAgent {
  session: HubSession;
  runner: StepRunner;
  metrics: AgentMetrics;
  /** Where /metrics is served (config `metrics.listen`, its port resolved when 0); undefined when off. */
  metricsUrl: string | undefined;
  /** Resolves after the hub first welcomed the agent. */
  welcomed: Promise<void>;
  /** Stops taking work, lets held steps finish (aborting them after `timeoutMs`), then stops. */
  drain(timeoutMs: number): Promise<void>;
  /** Stops at once: held steps run on in their executors, for the next agent process to reattach. */
  stop(): Promise<void>;
}

export class AgentStartError extends Error {
  readonly code = 'AGENT_START_FAILED';
}

export async function readToken(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new AgentStartError(
      `cannot read token_file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  const token = text.trim();
  if (!token) throw new AgentStartError(`token_file ${file} is empty`);
  return token;
}

async function channelCredentials(
  config: AgentConfig,
  hub: HubTarget,
  log: Logger,
): Promise<ChannelCredentials> {
  const { caFile, certFile, keyFile } = config.hub.tls;
  if (!hub.tls || (!caFile && !certFile)) return hubChannelCredentials(hub, undefined);
  // Read again when they change: each new connection to the hub trusts the CA file and presents the
  // client certificate as they are then (a renewed certificate needs no restart).
  const files = await ReloadingTlsFiles.load(
    { caFile, certFile, keyFile },
    { intervalMs: TLS_RELOAD_MS, log: log.child({ component: 'tls' }) },
  ).catch((err: unknown) => {
    throw new AgentStartError(`hub.tls: ${(err as Error).message}`);
  });
  return hubChannelCredentials(hub, files);
}

async function executorFor(
  config: AgentConfig,
  pool: AgentConfig['pools'][number],
  log: Logger,
  dataEndpoint: DataEndpoint | undefined,
): Promise<Executor> {
  const workRoot = path.join(config.workDir, 'steps', pool.name);
  // Host processes have no cluster to read Secrets from: steps that need them error.
  if (pool.executor === 'process')
    return refuseSecretEnv(new ProcessExecutor({ workRoot, runAs: await stepUser(pool, workRoot) }));
  if (pool.kubernetes) {
    // Loaded only for Kubernetes pools: the client library alone costs an idle agent ~60 MB.
    const { KubernetesExecutor } = await import('./executors/kubernetes/index.js');
    try {
      return new KubernetesExecutor({
        settings: pool.kubernetes,
        agent: config.name,
        workRoot,
        log: log.child({ pool: pool.name }),
        ...(dataEndpoint ? { dataEndpoint } : {}),
      });
    } catch (err) {
      // A missing kubeconfig or in-cluster service account: say which pool, at startup.
      throw new AgentStartError(
        `pool "${pool.name}": cannot load the Kubernetes config: ${(err as Error).message}`,
      );
    }
  }
  throw new AgentStartError(
    `pool "${pool.name}": the ${pool.executor} executor is not available in this agent build`,
  );
}

/** A process pool's run_as, checked now: a pool that cannot keep it must not run steps as the agent. */
async function stepUser(pool: AgentConfig['pools'][number], workRoot: string): Promise<StepUser | undefined> {
  if (pool.runAs === undefined) return undefined;
  try {
    const user = resolveRunAs(pool.runAs);
    await checkReachable(workRoot, user);
    return user;
  } catch (err) {
    if (err instanceof RunAsError) throw new AgentStartError(`pool "${pool.name}": ${err.message}`);
    throw err;
  }
}

/** How long the first Hello waits for a pool's admission check (it retries a busy API server). */
const ADMISSION_WAIT_MS = 10_000;

/** The pool's admission check for the hub (`outpost agents`), or unknown when it takes too long. */
async function admissionOf(executor: Executor | undefined): Promise<Admission | undefined> {
  if (!executor?.admission) return undefined;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<Admission>((resolve) => {
    timer = setTimeout(
      () => resolve({ verdict: 'unknown', message: `no answer within ${ADMISSION_WAIT_MS / 1000}s` }),
      ADMISSION_WAIT_MS,
    );
  });
  try {
    return await Promise.race([executor.admission, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A drain past its timeout stops the steps left (SIGTERM, SIGKILL 5 s later) and waits at most this for
 * them to end and their results to be acknowledged: the agent exits within drain timeout + this.
 */
export const STOPPED_STEPS_WAIT_MS = 15_000;

export async function startAgent(config: AgentConfig, log: Logger): Promise<RunningAgent> {
  const token = await readToken(config.tokenFile);
  const metrics = createAgentMetrics();
  if (config.pools.some((p) => p.runAs !== undefined))
    await fenceWorkDir(
      config.workDir,
      config.pools.map((p) => ({ name: p.name, runAs: p.runAs !== undefined })),
    );
  const pools = new Map<string, PoolRuntime>();
  // Shared by the Kubernetes pools whose pods fetch and push their files here (data_path: agent).
  const dataEndpoint = config.dataEndpoint
    ? await DataEndpoint.start(config.dataEndpoint).catch((err: unknown) => {
        throw new AgentStartError(`data_endpoint: cannot listen: ${(err as Error).message}`);
      })
    : undefined;
  if (dataEndpoint) log.info({ url: dataEndpoint.url }, 'data endpoint listening');
  for (const p of config.pools) {
    pools.set(p.name, {
      name: p.name,
      capacity: p.capacity,
      executor: await executorFor(config, p, log, dataEndpoint),
      // The built-in types (all, unless the pool lists fewer) run inside the agent.
      builtin: new BuiltinResourceExecutor({
        workRoot: path.join(config.workDir, 'resources', p.name),
        types: Object.fromEntries(p.builtinTypes.map((t) => [t, BUILTINS[t]])),
        shell: p.executor === 'process' && p.runAs === undefined,
      }),
      builtinTypes: p.builtinTypes,
      keepFailedStepsMs: p.keepFailedStepsMs,
      // A task's image_resource becomes a rootfs on process pools that ask for it (task_images: chroot).
      ...(p.taskImages ? { images: new RootfsCache(path.join(config.workDir, 'images')) } : {}),
    });
  }
  const channelOptions: Record<string, string | number> = {
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
    // The hub's limit (Welcome's limits.max_message_bytes, 4 MiB by default) both ways: a message over it
    // fails here with RESOURCE_EXHAUSTED and a reason, instead of costing the hub a read to refuse it.
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    ...HUB_RECONNECT_BACKOFF,
  };
  // TLS verifies hub.tls.server_name (channel-credentials.ts); HTTP/2 names it as the authority too.
  if (config.hub.tls.serverName) channelOptions['grpc.default_authority'] = config.hub.tls.serverName;
  const hub: HubTarget = {
    address: config.hub.address,
    serverName: config.hub.tls.serverName,
    tls: !config.hub.tls.insecurePlaintext,
    clientCertificate: config.hub.tls.certFile !== undefined,
  };
  // One channel for the session stream and the artifact calls: they multiplex on one HTTP/2 connection.
  const client = new GatewayClient(
    config.hub.address,
    await channelCredentials(config, hub, log),
    channelOptions,
  );
  const cache = new ArtifactCache(path.join(config.workDir, 'cache'), config.cacheMaxBytes);
  const calls = new HubCallMetadata(token);
  const transfer = new ArtifactTransfer(client, calls, cache);
  const taskCaches = new TaskCaches(path.join(config.workDir, 'caches'), config.taskCacheMaxBytes);
  const runner = new StepRunner(pools, transfer, taskCaches, metrics, log.child({ component: 'runner' }));
  const session = new HubSession(
    client,
    {
      calls,
      agentName: config.name,
      agentVersion: AGENT_VERSION,
      cluster: config.cluster,
      hub,
      pools: await Promise.all(
        config.pools.map(async (p) => {
          const admission = await admissionOf(pools.get(p.name)?.executor);
          return {
            name: p.name,
            platform: platformToWire(p.platform),
            tags: [...p.tags],
            executor: p.executor,
            capacity: p.capacity,
            builtinTypes: [...p.builtinTypes],
            taskImages: p.taskImages,
            admission: admission && { verdict: verdictToWire(admission.verdict), message: admission.message },
          };
        }),
      ),
    },
    runner,
    metrics,
    log.child({ component: 'session' }),
  );
  await runner.recover();
  const running = session.run();
  const metricsServer = config.metrics ? await serveMetrics(config.metrics.listen, metrics, log) : undefined;

  const stop = async () => {
    session.stop();
    client.close();
    await runner.stop();
    await running;
    await new Promise<void>((resolve) => (metricsServer ? metricsServer.close(() => resolve()) : resolve()));
    await dataEndpoint?.close();
  };

  return {
    session,
    runner,
    metrics,
    metricsUrl: metricsServer && urlOf(metricsServer),
    welcomed: session.welcomed,
    async drain(timeoutMs) {
      session.drain('agent shutting down');
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'timeout'>(
        (resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)),
      );
      if ((await Promise.race([runner.idle(), deadline])) === 'timeout') {
        log.warn({ steps: runner.size }, 'drain deadline passed; aborting the remaining steps');
        runner.abortAll(
          `agent ${config.name} shut down before the step finished (drain timeout of ${Math.round(timeoutMs / 1000)}s)`,
        );
        await Promise.race([
          runner.idle(),
          new Promise((resolve) => setTimeout(resolve, STOPPED_STEPS_WAIT_MS)),
        ]);
      }
      clearTimeout(timer);
      await stop();
    },
    stop,
  };
}

async function serveMetrics(listen: string, metrics: AgentMetrics, log: Logger): Promise<Server> {
  const i = listen.lastIndexOf(':');
  const server = createServer((req, res) => {
    if (req.url === '/metrics') {
      metrics.registry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body),
        () => res.writeHead(500).end(),
      );
    } else if (req.url === '/healthz') {
      res.writeHead(200).end('ok\n');
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) =>
    server.listen(Number(listen.slice(i + 1)), listen.slice(0, i).replace(/^\[(.*)\]$/, '$1'), resolve),
  );
  log.info({ listen, url: urlOf(server) }, 'metrics endpoint listening');
  return server;
}

function urlOf(server: Server): string {
  const { address, port } = server.address() as AddressInfo;
  return `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
}
