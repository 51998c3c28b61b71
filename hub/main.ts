#!/usr/bin/env node
// The hub process: parses flags, builds the logger, starts the hub, and owns the signals.

import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { Kysely } from 'kysely';
import { pino } from 'pino';
import { checkGatewayTls } from './gateway/tls-checks.js';
import { parseDuration } from '../common/duration.js';
import { growSmallHeapsFaster } from '../common/heap-growth.js';
import { rotateAdminToken } from './auth/admin-token.js';
import { DEFAULT_OIDC_SCOPES, isLoopback, type OidcOptions } from './auth/oidc.js';
import { TokenService } from './auth/tokens.js';
import { DEFAULT_HUB_OPTIONS, HUB_VERSION, startHub, type HubOptions } from './hub.js';
import { copySqliteToPostgres } from './store/data-copy.js';
import { migrateToLatest, pendingMigrations } from './store/migrations/index.js';
import { openDatabase, openStore } from './store/open.js';
import { redactDatabaseUrl } from './store/postgres.js';
import { openSqliteStore, SQLITE_FILE } from './store/sqlite.js';
import { EncryptionKeyError, parseEncryptionKey, type StoreEncryption } from './store/encryption.js';

function durationOption(value: string): number {
  const parsed = parseDuration(value);
  if (!parsed.ok) throw new InvalidArgumentError(parsed.error);
  return parsed.ms;
}

/** `104857600`, `100MiB`, `100M`, `512KiB`, `1GiB`: a byte count (binary units). */
export function parseBytes(value: string): number {
  const m = /^\s*(\d+)\s*(|b|k|kb|kib|m|mb|mib|g|gb|gib)\s*$/i.exec(value);
  if (!m) throw new InvalidArgumentError(`"${value}" is not a size (e.g. 104857600, 512KiB, 100MiB, 1GiB)`);
  const unit = (m[2] ?? '').toLowerCase().charAt(0);
  const scale = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1;
  return Number(m[1]) * scale;
}

function hostPort(value: string): { host: string; port: number } {
  const i = value.lastIndexOf(':');
  const port = Number(value.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError(`"${value}" is not HOST:PORT`);
  }
  return { host: value.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port };
}

export function hubCommand(): Command {
  return (
    new Command('outpost-hub')
      .description('The Outpost hub: schedules builds and dispatches their steps to agents that dial in.')
      .version(HUB_VERSION)
      .option(
        '--data-dir <dir>',
        'where the database and bootstrap files live',
        process.env.OUTPOST_HUB_DATA_DIR ?? './outpost-data',
      )
      // No default from the environment here: commander would print it, password and all, in --help.
      .option(
        '--database <url>',
        'PostgreSQL URL (postgres://USER:PASSWORD@HOST:PORT/DB; env OUTPOST_DATABASE_URL) shared by hub replicas; default: SQLite in --data-dir',
      )
      .option('--http-listen <host:port>', 'HTTP API address', '127.0.0.1:8080')
      .option(
        '--grpc-listen <host:port>',
        'address agents dial into ([::]: every IPv6 and IPv4 address; IPv4 only where there is no IPv6)',
        '[::]:7777',
      )
      .option('--tls-cert <file>', 'PEM certificate for the agent gateway')
      .option('--tls-key <file>', 'PEM private key for the agent gateway')
      .option(
        '--tls-client-ca <file>',
        'require agents to present a client certificate signed by this CA (mTLS)',
      )
      .option(
        '--insecure-plaintext',
        'serve agents without TLS (only for loopback or a trusted test network)',
        false,
      )
      .addOption(
        new Option('--lease-grace <duration>', 'how long a disconnected agent keeps its running steps')
          .argParser(durationOption)
          .default(DEFAULT_HUB_OPTIONS.leaseGraceMs, '2m'),
      )
      .addOption(
        new Option('--heartbeat <duration>', 'heartbeat interval on agent sessions')
          .argParser(durationOption)
          .default(DEFAULT_HUB_OPTIONS.heartbeatMs, '5s'),
      )
      .addOption(
        new Option(
          '--max-build-log-bytes <size>',
          'log bytes stored per build; later output is dropped behind one marker line (0: no cap)',
        )
          .argParser(parseBytes)
          .default(DEFAULT_HUB_OPTIONS.maxBuildLogBytes, '100MiB'),
      )
      .addOption(
        new Option(
          '--max-session-log-bytes <size>',
          'log bytes one agent session may have waiting for the store before the hub stops reading it',
        )
          .argParser(parseBytes)
          .default(DEFAULT_HUB_OPTIONS.maxSessionLogBytes, '8MiB'),
      )
      .addOption(
        new Option('--audit-interval <duration>', 'how often the stall audit checks unfinished builds')
          .argParser(durationOption)
          .default(DEFAULT_HUB_OPTIONS.auditIntervalMs, '1m'),
      )
      .addOption(
        new Option(
          '--drain-timeout <duration>',
          'on SIGTERM/SIGINT, exit (status 1) if draining takes longer',
        )
          .argParser(durationOption)
          .default(30_000, '30s'),
      )
      .addOption(
        new Option(
          '--core-resource-image <type=repository>',
          'the image a base resource type runs from (repeatable; mock and time are built in), e.g. git=my.registry/git-resource',
        )
          .argParser(coreImageOption)
          .default({}, 'concourse/<type>-resource for the core types'),
      )
      .addOption(
        new Option('--audit-log-retention <duration>', 'how long the audit log keeps an entry')
          .argParser(durationOption)
          .default(DEFAULT_HUB_OPTIONS.auditLogRetentionMs, '2160h (90 days)'),
      )
      .option(
        '--external-url <url>',
        'the URL users reach the hub at (the OIDC callback is built on it; default: the HTTP listen address)',
        process.env.OUTPOST_EXTERNAL_URL,
      )
      .option(
        '--replica-url <url>',
        "with --database: the URL the other replicas reach this one's API at (an intercept is forwarded to the replica holding the agent; env OUTPOST_REPLICA_URL; default: the HTTP listen address)",
        process.env.OUTPOST_REPLICA_URL,
      )
      .option(
        '--replica-host <address>',
        "with --database and no --replica-url: the host name or IP address (IPv6 without brackets, as a pod's IP) the other replicas reach this one's API at, on the HTTP listen port (env OUTPOST_REPLICA_HOST)",
        process.env.OUTPOST_REPLICA_HOST,
      )
      .option(
        '--oidc-issuer <url>',
        'log in through this OpenID Connect provider (https)',
        process.env.OUTPOST_OIDC_ISSUER,
      )
      .option(
        '--oidc-client-id <id>',
        "the hub's client id at the provider",
        process.env.OUTPOST_OIDC_CLIENT_ID,
      )
      .option(
        '--oidc-client-secret-file <file>',
        "a file holding the hub's client secret (or set OUTPOST_OIDC_CLIENT_SECRET)",
        process.env.OUTPOST_OIDC_CLIENT_SECRET_FILE,
      )
      .option('--oidc-display-name <name>', "the provider's name on the login page", 'OpenID Connect')
      .option('--oidc-groups-claim <claim>', "the claim listing a user's groups", 'groups')
      .option(
        '--oidc-username-claim <claim>',
        'the claim naming a user (then email, then the subject)',
        'preferred_username',
      )
      .option(
        '--oidc-scope <scope>',
        `a scope to ask for (repeatable; default: ${DEFAULT_OIDC_SCOPES.join(' ')})`,
        (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
      )
      .option(
        '--metrics-token-file <file>',
        "a file holding the token Prometheus presents for /metrics (admins' API tokens work too)",
        process.env.OUTPOST_METRICS_TOKEN_FILE,
      )
      .option(
        '--metrics-listen <host:port>',
        'also serve /metrics WITHOUT a token on this address (a trusted network only)',
      )
      .option(
        '--encryption-key <key>',
        'a 32-byte key (AES-256-GCM) for secrets at rest: pipeline configs, plans, step specs (env OUTPOST_ENCRYPTION_KEY)',
        process.env.OUTPOST_ENCRYPTION_KEY,
      )
      .option(
        '--encryption-key-file <file>',
        'read --encryption-key from this file (a Kubernetes Secret mount)',
        process.env.OUTPOST_ENCRYPTION_KEY_FILE,
      )
      .option(
        '--old-encryption-key <key>',
        'the previous key while rotating: read, and everything is re-encrypted under --encryption-key at start (env OUTPOST_OLD_ENCRYPTION_KEY)',
        process.env.OUTPOST_OLD_ENCRYPTION_KEY,
      )
      .option('--log-level <level>', 'pino log level', process.env.OUTPOST_LOG_LEVEL ?? 'info')
  );
}

/** The OIDC options from the flags (undefined without --oidc-issuer); a problem is thrown as a message. */
async function oidcOptions(flags: HubFlags, env: NodeJS.ProcessEnv): Promise<OidcOptions | undefined> {
  if (!flags.oidcIssuer) return undefined;
  let issuer: URL;
  try {
    issuer = new URL(flags.oidcIssuer);
  } catch {
    throw new Error(`--oidc-issuer "${flags.oidcIssuer}" is not a URL`);
  }
  if (issuer.protocol !== 'https:' && !isLoopback(issuer))
    throw new Error('--oidc-issuer must be https:// (plain http only for a provider on this host)');
  if (!flags.oidcClientId) throw new Error('--oidc-issuer needs --oidc-client-id');
  const secret = flags.oidcClientSecretFile
    ? await readSecretFile(flags.oidcClientSecretFile, '--oidc-client-secret-file')
    : env.OUTPOST_OIDC_CLIENT_SECRET;
  if (!secret) throw new Error('--oidc-issuer needs --oidc-client-secret-file or OUTPOST_OIDC_CLIENT_SECRET');
  return {
    issuer: issuer.href.replace(/\/$/, ''),
    clientId: flags.oidcClientId,
    clientSecret: secret,
    displayName: flags.oidcDisplayName,
    groupsClaim: flags.oidcGroupsClaim,
    usernameClaim: flags.oidcUsernameClaim,
    scopes: flags.oidcScope ?? DEFAULT_OIDC_SCOPES,
  };
}

/** A secret kept in a file (a mounted Kubernetes Secret): its trimmed content, never printed. */
async function readSecretFile(file: string, flag: string): Promise<string> {
  try {
    const secret = (await readFile(file, 'utf8')).trim();
    if (!secret) throw new Error('it is empty');
    return secret;
  } catch (err) {
    throw new Error(`${flag} ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** The key options, read and checked (a key file's trailing newline is not part of the key). */
function encryptionOf(flags: HubFlags): StoreEncryption | undefined {
  // The environment is read here, not as commander's default, which --help would print.
  const oldKey = flags.oldEncryptionKey ?? process.env.OUTPOST_OLD_ENCRYPTION_KEY;
  const text =
    flags.encryptionKeyFile !== undefined
      ? readFileSync(flags.encryptionKeyFile, 'utf8').replace(/\r?\n$/, '')
      : (flags.encryptionKey ?? process.env.OUTPOST_ENCRYPTION_KEY);
  if (text === undefined) {
    if (oldKey !== undefined)
      throw new EncryptionKeyError('--old-encryption-key needs the new key as --encryption-key');
    return undefined;
  }
  const key = parseEncryptionKey(text, '--encryption-key');
  return oldKey === undefined ? { key } : { key, oldKey: parseEncryptionKey(oldKey, '--old-encryption-key') };
}

/** `TYPE=REPOSITORY`, collected into a map (the flag repeats). */
function coreImageOption(value: string, previous: Record<string, string>): Record<string, string> {
  const at = value.indexOf('=');
  if (at <= 0 || at === value.length - 1) throw new InvalidArgumentError(`"${value}" is not TYPE=REPOSITORY`);
  return { ...previous, [value.slice(0, at)]: value.slice(at + 1) };
}

interface HubFlags {
  dataDir: string;
  database?: string;
  httpListen: string;
  grpcListen: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsClientCa?: string;
  insecurePlaintext: boolean;
  leaseGrace: number;
  heartbeat: number;
  maxBuildLogBytes: number;
  maxSessionLogBytes: number;
  auditInterval: number;
  drainTimeout: number;
  coreResourceImage: Record<string, string>;
  auditLogRetention: number;
  externalUrl?: string;
  replicaUrl?: string;
  replicaHost?: string;
  oidcIssuer?: string;
  oidcClientId?: string;
  oidcClientSecretFile?: string;
  oidcDisplayName: string;
  oidcGroupsClaim: string;
  oidcUsernameClaim: string;
  oidcScope?: string[];
  metricsTokenFile?: string;
  metricsListen?: string;
  encryptionKey?: string;
  encryptionKeyFile?: string;
  oldEncryptionKey?: string;
  logLevel: string;
}

async function main(): Promise<void> {
  // Positional options: `rotate-admin-token --data-dir D` gives D to the subcommand, not to the server.
  const cmd = hubCommand()
    .enablePositionalOptions()
    .action(() => serve(cmd));
  cmd
    .command('rotate-admin-token')
    .description(
      'revoke the admin API token and write a new one to DATA_DIR/admin-token (mode 0600); on SQLite the hub must be stopped',
    )
    .option(
      '--data-dir <dir>',
      'the hub data directory (the token file goes there; with --database, shared by the replicas)',
      process.env.OUTPOST_HUB_DATA_DIR ?? './outpost-data',
    )
    .option('--database <url>', 'PostgreSQL URL (env OUTPOST_DATABASE_URL); default: SQLite in --data-dir')
    .action(async (opts: { dataDir: string; database?: string }) => {
      const dataDir = path.resolve(opts.dataDir);
      const databaseUrl = opts.database ?? process.env.OUTPOST_DATABASE_URL;
      if (databaseUrl === undefined && !existsSync(path.join(dataDir, SQLITE_FILE)))
        throw new Error(`${dataDir} holds no hub database (${SQLITE_FILE}); is --data-dir right?`);
      // SQLite: opening the store takes the data directory's lock, so a running hub makes this refuse.
      // PostgreSQL: running replicas read tokens from the database, so the old token stops working at once.
      const store =
        databaseUrl === undefined
          ? await openSqliteStore({ dataDir })
          : await openStore({ databaseUrl, dataDir });
      try {
        const { file, revoked } = await rotateAdminToken(store, new TokenService(store), dataDir);
        // Never the secret: this output may end up in a log.
        process.stdout.write(
          `revoked ${revoked} admin token(s); the new one is in ${file ?? dataDir} (mode 0600)\n`,
        );
      } finally {
        await store.close();
      }
    });
  cmd.addCommand(migrateCommand());
  cmd.addCommand(migrateDataCommand());
  await cmd.parseAsync(process.argv);
}

/** `outpost-hub migrate [--dry-run]`: what `serve` does at start, on its own (e.g. before a rollout). */
function migrateCommand(): Command {
  return new Command('migrate')
    .description(
      'apply the database migrations not applied yet (hubs also do it when they start); --dry-run lists them',
    )
    .option('--database <url>', 'PostgreSQL URL (env OUTPOST_DATABASE_URL); default: SQLite in --data-dir')
    .option(
      '--data-dir <dir>',
      'the hub data directory (SQLite)',
      process.env.OUTPOST_HUB_DATA_DIR ?? './outpost-data',
    )
    .option('--dry-run', 'list the pending migrations, change nothing', false)
    .action(async (opts: { database?: string; dataDir: string; dryRun: boolean }) => {
      opts.database ??= process.env.OUTPOST_DATABASE_URL;
      const where = opts.database ? redactDatabaseUrl(opts.database) : path.resolve(opts.dataDir);
      if (!opts.database && !existsSync(path.join(opts.dataDir, SQLITE_FILE)))
        throw new Error(`${where} holds no hub database (${SQLITE_FILE}); is --data-dir right?`);
      const db = await openDatabase(
        opts.database ? { databaseUrl: opts.database } : { dataDir: path.resolve(opts.dataDir) },
      );
      try {
        // A database that cannot be reached (password, certificate, address) is named in the error.
        const names = await (
          opts.dryRun
            ? pendingMigrations(db as unknown as Kysely<unknown>)
            : migrateToLatest(db as unknown as Kysely<unknown>)
        ).catch((err: unknown) => {
          throw new Error(`${where}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
        });
        const verb = opts.dryRun ? 'pending' : 'applied';
        process.stdout.write(
          names.length === 0
            ? `${where}: up to date, no migration ${verb}\n`
            : `${where}: ${names.length} migration(s) ${verb}:\n${names.map((n) => `  ${n}\n`).join('')}`,
        );
      } finally {
        await db.destroy();
      }
    });
}

/**
 * `outpost-hub migrate-data`: copies a stopped hub's SQLite database into a new, empty PostgreSQL one,
 * both migrated to this version first (hub/store/data-copy.ts).
 */
function migrateDataCommand(): Command {
  return new Command('migrate-data')
    .description(
      'copy the SQLite database in --data-dir (the hub stopped) into an empty PostgreSQL database (--database), for hub replicas',
    )
    .option(
      '--data-dir <dir>',
      'the hub data directory holding the SQLite database',
      process.env.OUTPOST_HUB_DATA_DIR ?? './outpost-data',
    )
    .option('--database <url>', 'the PostgreSQL URL to copy into (env OUTPOST_DATABASE_URL)')
    .action(async (opts: { dataDir: string; database?: string }) => {
      const url = opts.database ?? process.env.OUTPOST_DATABASE_URL;
      if (url === undefined)
        throw new Error('migrate-data needs --database (or OUTPOST_DATABASE_URL): where to copy to');
      const dataDir = path.resolve(opts.dataDir);
      if (!existsSync(path.join(dataDir, SQLITE_FILE)))
        throw new Error(`${dataDir} holds no hub database (${SQLITE_FILE}); is --data-dir right?`);
      // Opening SQLite takes the data directory's lock: a hub still running there makes this refuse.
      const source = await openDatabase({ dataDir });
      const target = await openDatabase({ databaseUrl: url }).catch(async (err: unknown) => {
        await source.destroy();
        throw err;
      });
      try {
        await migrateToLatest(source as unknown as Kysely<unknown>);
        await migrateToLatest(target as unknown as Kysely<unknown>);
        const copied = await copySqliteToPostgres(source, target);
        const rows = copied.reduce((n, t) => n + t.rows, 0);
        process.stdout.write(
          `copied ${rows} rows in ${copied.length} tables from ${path.join(dataDir, SQLITE_FILE)} to ${redactDatabaseUrl(url)}:\n` +
            copied.map((t) => `  ${t.table}: ${t.rows}\n`).join('') +
            `start the hubs with --database and the same --encryption-key; move ${path.join(dataDir, 'artifacts')} to their shared --data-dir\n`,
        );
      } finally {
        await source.destroy();
        await target.destroy();
      }
    });
}

/** Runs the hub until SIGTERM/SIGINT. */
async function serve(cmd: Command): Promise<void> {
  const flags = cmd.opts<HubFlags>();
  // No `component` here: each module's child logger sets it, and a JSON line must not carry a key twice.
  const log = pino({ level: flags.logLevel });

  if (Boolean(flags.tlsCert) !== Boolean(flags.tlsKey))
    cmd.error('error: --tls-cert and --tls-key go together');
  if (!flags.tlsCert && !flags.insecurePlaintext) {
    cmd.error(
      'error: the agent gateway needs --tls-cert and --tls-key, or --insecure-plaintext for loopback and test networks',
    );
  }
  let http: { host: string; port: number };
  let oidc: OidcOptions | undefined;
  let metricsToken: string | undefined;
  try {
    http = hostPort(flags.httpListen);
    hostPort(flags.grpcListen);
    oidc = await oidcOptions(flags, process.env);
    if (flags.metricsTokenFile)
      metricsToken = await readSecretFile(flags.metricsTokenFile, '--metrics-token-file');
    if (flags.externalUrl && !/^https?:\/\/[^/]+/.test(flags.externalUrl))
      throw new Error(`--external-url "${flags.externalUrl}" is not an http(s) URL`);
    if (flags.replicaUrl && !/^https?:\/\/[^/]+/.test(flags.replicaUrl))
      throw new Error(`--replica-url "${flags.replicaUrl}" is not an http(s) URL`);
    if (flags.replicaHost && isIP(flags.replicaHost) === 0 && !/^[A-Za-z0-9.-]+$/.test(flags.replicaHost))
      throw new Error(`--replica-host "${flags.replicaHost}" is not a host name or an IP address`);
  } catch (err) {
    return cmd.error(`error: ${(err as Error).message}`);
  }
  let encryption: StoreEncryption | undefined;
  try {
    encryption = encryptionOf(flags);
  } catch (err) {
    return cmd.error(`error: ${(err as Error).message}`);
  }
  const options: HubOptions = {
    ...DEFAULT_HUB_OPTIONS,
    ...(encryption ? { encryption } : {}),
    dataDir: path.resolve(flags.dataDir),
    databaseUrl: flags.database ?? process.env.OUTPOST_DATABASE_URL,
    httpListen: http,
    grpcListen: flags.grpcListen,
    tls:
      flags.tlsCert && flags.tlsKey
        ? { certFile: flags.tlsCert, keyFile: flags.tlsKey, clientCaFile: flags.tlsClientCa }
        : undefined,
    leaseGraceMs: flags.leaseGrace,
    heartbeatMs: flags.heartbeat,
    maxBuildLogBytes: flags.maxBuildLogBytes,
    maxSessionLogBytes: flags.maxSessionLogBytes,
    auditIntervalMs: flags.auditInterval,
    auditLogRetentionMs: flags.auditLogRetention,
    externalUrl: flags.externalUrl,
    replicaUrl: flags.replicaUrl,
    replicaHost: flags.replicaHost,
    oidc,
    metricsToken,
    metricsListen: flags.metricsListen ? hostPort(flags.metricsListen) : undefined,
    coreResourceImages: { ...DEFAULT_HUB_OPTIONS.coreResourceImages, ...flags.coreResourceImage },
  };
  if (!options.tls)
    log.warn(
      'agent gateway is serving PLAINTEXT (--insecure-plaintext): tokens cross the network unencrypted',
    );

  // A TLS file that cannot work stops the hub here, named, before it opens its data directory.
  if (options.tls) await checkGatewayTls(options.tls);
  const hub = await startHub(options, log);
  // Logs flowing through a small heap would otherwise keep V8 marking it nonstop (common/heap-growth.ts).
  growSmallHeapsFaster();

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'draining: no new work, telling agents, flushing');
    const force = setTimeout(() => {
      log.error('drain took too long; exiting');
      process.exit(1);
    }, flags.drainTimeout);
    force.unref();
    hub.close().then(
      () => {
        log.info('hub stopped');
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  // Another replica may lead already: stop at once, draining nothing (the leader resumes what was
  // in flight, as after a crash).
  void hub.leadershipLost.then((err) => {
    log.fatal({ err }, 'lost the leader lock; exiting');
    process.exit(1);
  });
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`outpost-hub: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
