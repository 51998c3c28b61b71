#!/usr/bin/env node
// The hub process: parses flags, builds the logger, starts the hub, and owns the signals.

import { existsSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { pino } from 'pino';
import { checkGatewayTls } from './gateway/tls-checks.js';
import { parseDuration } from './pipeline/duration.js';
import { rotateAdminToken } from './auth/admin-token.js';
import { TokenService } from './auth/tokens.js';
import { DEFAULT_HUB_OPTIONS, HUB_VERSION, startHub, type HubOptions } from './hub.js';
import { EncryptionKeyError, parseEncryptionKey } from './store/encryption.js';
import { openSqliteStore, SQLITE_FILE, type StoreEncryption } from './store/sqlite.js';

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
  return new Command('outpost-hub')
    .description('The Outpost hub: schedules builds and dispatches their steps to agents that dial in.')
    .version(HUB_VERSION)
    .option(
      '--data-dir <dir>',
      'where the database and bootstrap files live',
      process.env.OUTPOST_HUB_DATA_DIR ?? './outpost-data',
    )
    .option('--http-listen <host:port>', 'HTTP API address', '127.0.0.1:8080')
    .option('--grpc-listen <host:port>', 'address agents dial into', '0.0.0.0:7777')
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
      new Option('--drain-timeout <duration>', 'on SIGTERM/SIGINT, exit (status 1) if draining takes longer')
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
    .option('--log-level <level>', 'pino log level', process.env.OUTPOST_LOG_LEVEL ?? 'info');
}

/** The key options, read and checked (a key file's trailing newline is not part of the key). */
function encryptionOf(flags: HubFlags): StoreEncryption | undefined {
  const text =
    flags.encryptionKeyFile !== undefined
      ? readFileSync(flags.encryptionKeyFile, 'utf8').replace(/\r?\n$/, '')
      : flags.encryptionKey;
  if (text === undefined) {
    if (flags.oldEncryptionKey !== undefined)
      throw new EncryptionKeyError('--old-encryption-key needs the new key as --encryption-key');
    return undefined;
  }
  const key = parseEncryptionKey(text, '--encryption-key');
  return flags.oldEncryptionKey === undefined
    ? { key }
    : { key, oldKey: parseEncryptionKey(flags.oldEncryptionKey, '--old-encryption-key') };
}

/** `TYPE=REPOSITORY`, collected into a map (the flag repeats). */
function coreImageOption(value: string, previous: Record<string, string>): Record<string, string> {
  const at = value.indexOf('=');
  if (at <= 0 || at === value.length - 1) throw new InvalidArgumentError(`"${value}" is not TYPE=REPOSITORY`);
  return { ...previous, [value.slice(0, at)]: value.slice(at + 1) };
}

interface HubFlags {
  dataDir: string;
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
      'revoke the admin API token and write a new one to DATA_DIR/admin-token (mode 0600); the hub must be stopped',
    )
    .option(
      '--data-dir <dir>',
      'the hub data directory',
      process.env.OUTPOST_HUB_DATA_DIR ?? './outpost-data',
    )
    .action(async (opts: { dataDir: string }) => {
      const dataDir = path.resolve(opts.dataDir);
      if (!existsSync(path.join(dataDir, SQLITE_FILE)))
        throw new Error(`${dataDir} holds no hub database (${SQLITE_FILE}); is --data-dir right?`);
      // Opening the store takes the data directory's lock, so a running hub makes this refuse.
      const store = await openSqliteStore({ dataDir });
      try {
        const { file, revoked } = await rotateAdminToken(store, new TokenService(store), dataDir);
        process.stdout.write(`revoked ${revoked} admin token(s); the new one is in ${file} (mode 0600)\n`);
      } finally {
        await store.close();
      }
    });
  await cmd.parseAsync(process.argv);
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
  try {
    http = hostPort(flags.httpListen);
    hostPort(flags.grpcListen);
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
    coreResourceImages: { ...DEFAULT_HUB_OPTIONS.coreResourceImages, ...flags.coreResourceImage },
  };
  if (!options.tls)
    log.warn(
      'agent gateway is serving PLAINTEXT (--insecure-plaintext): tokens cross the network unencrypted',
    );

  // A TLS file that cannot work stops the hub here, named, before it opens its data directory.
  if (options.tls) await checkGatewayTls(options.tls);
  const hub = await startHub(options, log);

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
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`outpost-hub: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
