// Assembles a hub from its parts. main.ts (the process) and the tests both start hubs through here, so
// what the tests exercise is what runs in production.

import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { builtWebDir } from './api/routes/web.js';
import { buildApi, type ServedRoute } from './api/server.js';
import { FsArtifactStore } from './artifacts/fs-store.js';
import { startGarbageCollector } from './artifacts/gc.js';
import { Tunnels } from './gateway/tunnels.js';
import type { ArtifactStore } from './artifacts/store.js';
import { bootstrapAdminToken, rotateAdminToken } from './auth/admin-token.js';
import { OidcRelyingParty, type OidcOptions } from './auth/oidc.js';
import { OIDC_CALLBACK_PATH } from './api/routes/oidc.js';
import { TokenService } from './auth/tokens.js';
import { SigningKeys } from './idtoken/signing-keys.js';
import { Dispatcher } from './dispatch/dispatcher.js';
import { PipelineConfigs } from './configs/pipeline-cache.js';
import { BuildAudit } from './engine/audit.js';
import { Engine } from './engine/engine.js';
import { Checker } from './scheduler/checker.js';
import { Scheduler } from './scheduler/scheduler.js';
import { BuildEvents } from './events/build-events.js';
import { LogWriter } from './events/log-writer.js';
import { startGateway, type GatewayTls } from './gateway/server.js';
import { createHubMetrics, serveMetrics, type HubMetrics } from './metrics.js';
import { advisoryLockLeadership, soleLeadership, type Leadership } from './replicas/leadership.js';
import { connectReplicaSignals, type ReplicaSignals } from './replicas/signals.js';
import { LeaderActions } from './replicas/leader-actions.js';
import { replicaUrlOf } from './replicas/forward.js';
import { relayRevocations } from './replicas/revocations.js';
import { relayStepEnds } from './replicas/step-ends.js';
import type { StoreEncryption } from './store/encryption.js';
import { openStore } from './store/open.js';
import type { Store } from './store/store.js';
import { OUTPOST_VERSION } from '../common/version.js';

export const HUB_VERSION = OUTPOST_VERSION;

export interface HubOptions {
  /** Directory for the SQLite database and bootstrap files; undefined keeps everything in memory. */
  dataDir: string | undefined;
  /** postgres://... : the store is on PostgreSQL (replicas share it) rather than SQLite in dataDir. */
  databaseUrl?: string;
  /** AES-256-GCM key (and a previous one) for secret-bearing columns; undefined: stored in clear. */
  encryption?: StoreEncryption;
  httpListen: { host: string; port: number };
  grpcListen: string;
  tls: GatewayTls | undefined;
  heartbeatMs: number;
  /** Longest the hub may take to handle one agent message before it ends that agent's session. */
  messageTimeoutMs: number;
  leaseGraceMs: number;
  acceptWithinMs: number;
  abortGraceMs: number;
  maxMessageBytes: number;
  maxLogChunkBytes: number;
  logWindowBytes: number;
  maxPipelineBytes: number;
  /** The built web UI served at `/`; undefined: the package's dist/web. */
  webDir?: string;
  /** Largest step output accepted, in bytes (a tar of the output directory). */
  maxArtifactBytes: number;
  /** How often builds past their retention and unreferenced artifacts are removed. */
  gcIntervalMs: number;
  /** How often the checker looks for resources whose check_every is due. */
  checkTickMs: number;
  /** How often the scheduler looks at every pipeline, besides the changes that trigger it. */
  scheduleTickMs: number;
  /** Images of the base resource types that are not built in (git -> concourse/git-resource). */
  coreResourceImages: Record<string, string>;
  /** Log payload bytes stored per build; past it output is acknowledged, dropped, and marked once. 0: no cap. */
  maxBuildLogBytes: number;
  /** Log bytes one agent session may have waiting for the store before the hub stops reading it. */
  maxSessionLogBytes: number;
  /** Payload bytes of log chunks written in one store transaction at most. */
  logBatchBytes: number;
  /** How often the stall audit runs (also once at start). 0: never. */
  auditIntervalMs: number;
  /** How long the audit log keeps an entry (pruned with the garbage collection). */
  auditLogRetentionMs: number;
  /** The URL users reach the hub at (the OIDC callback's base); undefined: the HTTP listen address. */
  externalUrl?: string;
  /**
   * Replicas: the URL the other replicas reach this one's API at (an intercept is forwarded to the
   * replica holding the agent); undefined: the HTTP listen address (a wildcard host: this host's IPv4).
   */
  replicaUrl?: string;
  /**
   * Replicas without `replicaUrl`: the host (a name or an IP address, IPv6 without brackets, as a pod's
   * IP comes) other replicas reach this one's API at, on the HTTP port; the URL is built around it.
   */
  replicaHost?: string;
  /** Login through an OpenID Connect provider; undefined: local users and API tokens only. */
  oidc?: OidcOptions;
  /** The secret Prometheus presents for /metrics; undefined: only admins' API tokens are let in. */
  metricsToken?: string;
  /** A listener of its own serving /metrics without a token (for a scraper inside a trusted network). */
  metricsListen?: { host: string; port: number };
  /**
   * Replicas on PostgreSQL: how often each re-reads the store for queued steps, aborts and build events
   * (LISTEN/NOTIFY hints make it sooner; this bounds the delay of a lost one).
   */
  replicaRecheckMs: number;
}

export const DEFAULT_HUB_OPTIONS: Omit<HubOptions, 'dataDir' | 'tls'> = {
  httpListen: { host: '127.0.0.1', port: 8080 },
  grpcListen: '127.0.0.1:7777',
  heartbeatMs: 5_000,
  messageTimeoutMs: 30_000,
  leaseGraceMs: 120_000,
  acceptWithinMs: 5_000,
  abortGraceMs: 10_000,
  maxMessageBytes: 4 * 1024 * 1024,
  // Measured (npm run bench): 64 KiB chunks carry logs faster end to end than 256 KiB ones here.
  maxLogChunkBytes: 64 * 1024,
  logWindowBytes: 4 * 1024 * 1024,
  maxPipelineBytes: 2 * 1024 * 1024,
  maxArtifactBytes: 1024 * 1024 * 1024,
  gcIntervalMs: 60_000,
  checkTickMs: 5_000,
  scheduleTickMs: 10_000,
  coreResourceImages: {
    git: 'concourse/git-resource',
    'registry-image': 'concourse/registry-image-resource',
    'docker-image': 'concourse/docker-image-resource',
    s3: 'concourse/s3-resource',
    semver: 'concourse/semver-resource',
    'github-release': 'concourse/github-release-resource',
    pool: 'concourse/pool-resource',
    hg: 'concourse/hg-resource',
    cf: 'concourse/cf-resource',
    'bosh-io-release': 'concourse/bosh-io-release-resource',
    'bosh-io-stemcell': 'concourse/bosh-io-stemcell-resource',
    tracker: 'concourse/tracker-resource',
  },
  maxBuildLogBytes: 100 * 1024 * 1024,
  maxSessionLogBytes: 8 * 1024 * 1024,
  logBatchBytes: 1024 * 1024,
  auditIntervalMs: 60_000,
  auditLogRetentionMs: 90 * 86_400_000,
  replicaRecheckMs: 2_000,
};

export interface RunningHub {
  url: string;
  grpcPort: number;
  grpcAddress: string;
  store: Store;
  artifacts: ArtifactStore;
  engine: Engine;
  scheduler: Scheduler;
  checker: Checker;
  metrics: HubMetrics;
  tokens: TokenService;
  audit: BuildAudit;
  /**
   * The admin token's secret, set only on the first start (no API token yet), for embedding programs
   * (tests, benchmarks, an in-memory hub); the process itself only logs the file it went to.
   */
  initialAdminToken: string | undefined;
  /** Where `metricsListen` serves /metrics without a token (undefined without it). */
  metricsUrl: string | undefined;
  /** Every HTTP route the hub serves, as registered. */
  apiRoutes: readonly ServedRoute[];
  /**
   * Resolves once this hub leads and runs the singletons (at once for a single hub). A replica on
   * PostgreSQL serves agents and the API before that, while another replica leads.
   */
  leading: Promise<void>;
  /**
   * Resolves when a replica on PostgreSQL loses the leader lock, or its wait for it (the lock's database
   * connection failed): another replica may be leading already, so the process must stop at once.
   */
  leadershipLost: Promise<Error>;
  /** Stops accepting work, tells agents, flushes and closes the store, then gives up leadership. */
  close(): Promise<void>;
}

export async function startHub(options: HubOptions, log: Logger): Promise<RunningHub> {
  // The data directory holds the admin token's file and the artifacts (and SQLite's database): made on
  // either store, readable by the hub's user alone.
  if (options.dataDir !== undefined) await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  // On SQLite, opening the store takes the data directory's lock (a second hub is refused here, naming
  // the first). On PostgreSQL replicas share the database, and one at a time leads.
  const store = await openStore({
    databaseUrl: options.databaseUrl,
    dataDir: options.dataDir,
    encryption: options.encryption,
    log: log.child({ component: 'store' }),
  });
  if (!options.encryption)
    log.warn(
      'no --encryption-key: pipeline configs, plans and step specs (and the secrets in them) are stored in clear',
    );
  const leadership =
    options.databaseUrl === undefined ? soleLeadership() : advisoryLockLeadership(options.databaseUrl);
  let signals: ReplicaSignals | undefined;
  try {
    // Replicas: every one serves agents and dispatches to them; hints between them go over this.
    if (options.databaseUrl !== undefined)
      signals = await connectReplicaSignals(
        options.databaseUrl,
        randomUUID(),
        log.child({ component: 'replicas' }),
      );
    return await assemble(store, leadership, signals, options, log);
  } catch (err) {
    // Releases the locks, so that a hub that failed to start (a port in use) does not block the next.
    await leadership.release();
    await signals?.close();
    await store.close().catch(() => undefined);
    throw err;
  }
}

async function assemble(
  store: Store,
  leadership: Leadership,
  signals: ReplicaSignals | undefined,
  options: HubOptions,
  log: Logger,
): Promise<RunningHub> {
  const metrics = createHubMetrics();
  const events = new BuildEvents(store);
  const stopEventHints = signals
    ? events.connectReplicas(signals, options.replicaRecheckMs)
    : () => undefined;
  const logs = new LogWriter(
    events,
    { maxBuildLogBytes: options.maxBuildLogBytes, maxBatchBytes: options.logBatchBytes },
    metrics,
    log.child({ component: 'logs' }),
  );
  const tokens = new TokenService(store);
  const artifacts = new FsArtifactStore(
    options.dataDir
      ? path.join(options.dataDir, 'artifacts')
      : await mkdtemp(path.join(os.tmpdir(), 'outpost-artifacts-')),
    options.maxArtifactBytes,
  );
  const configs = new PipelineConfigs(store);
  // The engine, checker and scheduler call each other; the callbacks are bound once all exist.
  const later: { checker?: Checker; scheduler?: Scheduler; dispatcher?: Dispatcher } = {};
  const signingKeys = new SigningKeys(store.signingKeys);
  // Known once the API listens (its port may be chosen then): the idtoken issuer and the OIDC callback.
  let externalUrl = options.externalUrl?.replace(/\/+$/, '');
  const hubUrl = () => externalUrl ?? '';
  const engine = new Engine(store, events, artifacts, log.child({ component: 'engine' }), {
    configs,
    coreResourceImages: options.coreResourceImages,
    onVersions: (pipelineId) => later.scheduler?.request(pipelineId),
    idTokens: { keys: signingKeys, issuer: hubUrl },
    onBuildEnded: (build, status) => {
      later.checker?.ended(build);
      later.scheduler?.buildEnded(build);
      // Agents keeping the build's succeeded steps for intercept let them go, or keep them (it failed).
      if (status) later.dispatcher?.buildEnded(build.id, status);
    },
  });
  const checker = new Checker(store, engine, configs, log.child({ component: 'checker' }), {
    tickMs: options.checkTickMs,
  });
  const scheduler = new Scheduler(
    store,
    engine,
    checker,
    configs,
    events,
    log.child({ component: 'scheduler' }),
    {
      tickMs: options.scheduleTickMs,
    },
  );
  later.checker = checker;
  later.scheduler = scheduler;
  const dispatcher = new Dispatcher(
    store,
    engine,
    {
      acceptWithinMs: options.acceptWithinMs,
      leaseGraceMs: options.leaseGraceMs,
      abortGraceMs: options.abortGraceMs,
      ...(signals ? { shared: { signals, recheckMs: options.replicaRecheckMs } } : {}),
    },
    metrics,
    log.child({ component: 'dispatch' }),
  );
  engine.connect(dispatcher);
  later.dispatcher = dispatcher;
  if (signals) relayStepEnds(signals, store, engine, log.child({ component: 'replicas' }));

  const tunnels = new Tunnels((name) => dispatcher.connection(name));
  const leader = new LeaderActions({
    store,
    engine,
    scheduler,
    checker,
    signals,
    log: log.child({ component: 'replicas' }),
  });
  if (signals) relayRevocations(signals, tokens, store, log.child({ component: 'replicas' }));
  const openGateway = () =>
    startGateway(
      { listen: options.grpcListen, tls: options.tls },
      tokens,
      {
        store,
        dispatcher,
        engine,
        events,
        logs,
        maxSessionLogBytes: options.maxSessionLogBytes,
        metrics,
        log: log.child({ component: 'gateway' }),
        heartbeatMs: options.heartbeatMs,
        leaseGraceMs: options.leaseGraceMs,
        helloTimeoutMs: 10_000,
        messageTimeoutMs: options.messageTimeoutMs,
        limits: {
          maxMessageBytes: options.maxMessageBytes,
          maxLogChunkBytes: options.maxLogChunkBytes,
          logWindowBytes: options.logWindowBytes,
          maxArtifactBytes: options.maxArtifactBytes,
        },
        now: Date.now,
        replicaUrl: () => replicaUrl,
      },
      artifacts,
      tunnels,
    );

  let ready = false;
  let draining = false;
  // Replicas: known once the API listens, which is before the gateway takes agents (each records it).
  let replicaUrl: string | undefined;
  const oidc =
    options.oidc && new OidcRelyingParty(options.oidc, store.oidcLogins, () => hubUrl() + OIDC_CALLBACK_PATH);
  const { app: api, routes: apiRoutes } = buildApi({
    store,
    artifacts,
    tunnels,
    leader,
    configs,
    dispatcher,
    events,
    tokens,
    metrics,
    log: log.child({ component: 'api' }),
    version: HUB_VERSION,
    ready: () => ready,
    maxPipelineBytes: options.maxPipelineBytes,
    webDir: options.webDir ?? builtWebDir(),
    oidc,
    externalUrl: hubUrl,
    signingKeys,
    replicaUrl: () => replicaUrl,
    metricsToken: options.metricsToken,
    rotateAdminToken: () => rotateAdminToken(store, tokens, options.dataDir),
  });
  // Draining: reads still work (and SSE streams end as the process exits); nothing new is accepted.
  api.addHook('onRequest', async (req, reply) => {
    if (draining && req.method !== 'GET' && req.method !== 'HEAD')
      await reply
        .code(503)
        .header('retry-after', '5')
        .send({ error: { code: 'shutting_down', message: 'the hub is shutting down; retry shortly' } });
  });
  const serve = async () => {
    const address = await api.listen({ host: options.httpListen.host, port: options.httpListen.port });
    externalUrl ??= address;
    if (signals) replicaUrl = replicaUrlOf(options, new URL(address));
    return address;
  };

  // What only the leader runs (a single hub leads from the start); stopped by close().
  let admin: Awaited<ReturnType<typeof bootstrapAdminToken>>;
  const stops: (() => void)[] = [];
  const audit = new BuildAudit({
    store,
    engine,
    dispatcher,
    metrics,
    log: log.child({ component: 'audit' }),
    schedule: (pipelineId) => scheduler.request(pipelineId),
  });
  const becomeLeader = async () => {
    admin = await bootstrapAdminToken(store, tokens, options.dataDir);
    if (admin?.file)
      log.info(
        { file: admin.file },
        `first start: the admin API token is in ${admin.file} (mode 0600); log in with: outpost login --url URL --token - < ${admin.file}`,
      );
    else if (admin)
      log.info('first start: created an admin API token for the program that embeds this in-memory hub');
    await dispatcher.recover();
    const resumed = await engine.resumeAll();
    if (resumed > 0) log.info({ builds: resumed }, 'resumed unfinished builds');
    checker.start();
    scheduler.start();
    stops.push(
      () => checker.stop(),
      () => scheduler.stop(),
      leader.lead(options.replicaRecheckMs),
      startGarbageCollector(
        store,
        artifacts,
        {
          intervalMs: options.gcIntervalMs,
          minArtifactAgeMs: 60 * 60_000,
          auditLogRetentionMs: options.auditLogRetentionMs,
        },
        log.child({ component: 'gc' }),
      ),
    );
    if (options.auditIntervalMs > 0) stops.push(audit.start(options.auditIntervalMs));
  };

  let closing = false;
  /** This replica holds the leader lock (it may still be taking over). */
  let acquired = false;
  let gateway: Awaited<ReturnType<typeof openGateway>>;
  let address: string;
  let leading: Promise<void>;
  let leadershipLost = leadership.lost;
  if (!signals) {
    // A single hub: it leads from the start, and serves once it has recovered.
    await leadership.acquire();
    acquired = true;
    await becomeLeader();
    try {
      gateway = await openGateway();
      address = await serve();
    } catch (err) {
      // A port in use: the timers started above must not outlive the store, which startHub closes.
      for (const stop of stops) stop();
      throw err;
    }
    leading = Promise.resolve();
  } else {
    // Replicas: every one serves agents and the API from the start; one at a time leads. The API
    // listens first: an agent records the URL its replica's API is reached at as it connects.
    address = await serve();
    try {
      gateway = await openGateway();
    } catch (err) {
      await api.close();
      throw err;
    }
    log.info({ grpcPort: gateway.port }, 'agent gateway listening');
    log.info('waiting for the leader lock (the singletons run on the replica that leads)');
    let failed: (err: Error) => void = () => undefined;
    leadershipLost = Promise.race([leadership.lost, new Promise<Error>((resolve) => (failed = resolve))]);
    leading = leadership
      .acquire()
      .then(async () => {
        acquired = true;
        if (closing) return;
        log.info('leading: this replica holds the leader lock');
        await becomeLeader();
      })
      .catch((err: unknown) => {
        // close() gave the wait up; otherwise the lock's connection (or the takeover) failed: this
        // replica cannot lead, and the process must restart.
        if (!closing) failed(new Error(`taking the lead failed: ${(err as Error).message}`));
      });
  }
  const metricsServer = options.metricsListen && (await serveMetrics(metrics, options.metricsListen));
  ready = true;
  const grpcHost = options.grpcListen.slice(0, options.grpcListen.lastIndexOf(':'));
  log.info(
    { url: address, grpcPort: gateway.port, tls: Boolean(options.tls), leading: leader.isLeader },
    'hub ready',
  );

  return {
    url: address,
    grpcPort: gateway.port,
    grpcAddress: `${grpcHost}:${gateway.port}`,
    store,
    artifacts,
    engine,
    scheduler,
    checker,
    metrics,
    tokens,
    audit,
    get initialAdminToken() {
      return admin?.secret;
    },
    metricsUrl: metricsServer?.url,
    apiRoutes,
    leading,
    leadershipLost,
    async close() {
      // Order matters: refuse new work, tell agents (no new sessions), store what they already sent,
      // then close the store. What is left in flight (leases, unfinished builds) resumes on the next start.
      ready = false;
      draining = true;
      closing = true;
      // A replica waiting for the lock gives the wait up (it will not lead now); one holding it finishes
      // taking over, then stops like any leader, and gives the lock up last.
      if (!acquired) await leadership.release();
      await leading;
      for (const stop of stops) stop();
      await gateway.close();
      await logs.flush();
      await audit.idle();
      await api.close();
      await metricsServer?.close();
      dispatcher.stop();
      stopEventHints();
      await logs.flush();
      await signals?.close();
      // Builds still running stop at their next store call, unfinished, and resume at the next start.
      engine.stop();
      await store.close();
      // Last: a standby takes over only once everything this replica held is stored.
      await leadership.release();
    },
  };
}
