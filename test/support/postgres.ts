// A real, throwaway PostgreSQL for tests: Debian's `postgresql` binaries (/usr/lib/postgresql/N/bin),
// a fresh cluster in a temporary directory, listening only on a unix socket in that directory (no TCP
// port to collide on or to expose), trust authentication, fsync off. initdb refuses to run as root, so
// a root test process runs the server as the `postgres` user Debian's package creates (or
// $OUTPOST_PG_USER). postgresUnavailable() says why it cannot start here, for the skip note.

import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';

const PG_ROOT = '/usr/lib/postgresql';
const SUPERUSER = 'outpost';

export interface TestPostgres {
  /** The connection URL of database `name` on this server. */
  url(name: string): string;
  /** Creates an empty database (or a copy of `template`) and returns its URL. */
  createDatabase(name: string, template?: string): Promise<string>;
  stop(): Promise<void>;
}

/** The newest installed PostgreSQL's bin directory, or undefined. */
function binDir(): string | undefined {
  if (process.env.OUTPOST_PG_BIN) return process.env.OUTPOST_PG_BIN;
  if (!existsSync(PG_ROOT)) return undefined;
  const versions = readdirSync(PG_ROOT)
    .filter((v) => existsSync(path.join(PG_ROOT, v, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : path.join(PG_ROOT, versions[0], 'bin');
}

/** The uid and gid to run the server as: ourselves, or (as root) an unprivileged account. */
function serverUser(): { uid: number; gid: number } | string {
  const uid = process.getuid?.();
  const gid = process.getgid?.();
  if (uid === undefined || gid === undefined) return 'no POSIX user ids on this platform';
  if (uid !== 0) return { uid, gid };
  const name = process.env.OUTPOST_PG_USER ?? 'postgres';
  const entry = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .map((line) => line.split(':'))
    .find((fields) => fields[0] === name);
  if (entry === undefined)
    return `running as root and there is no "${name}" user to run PostgreSQL as (initdb refuses root)`;
  return { uid: Number(entry[2]), gid: Number(entry[3]) };
}

/** Why a test PostgreSQL cannot run here, or undefined when it can. */
export function postgresUnavailable(): string | undefined {
  const bin = binDir();
  if (bin === undefined) return `no PostgreSQL under ${PG_ROOT} (apt-get install postgresql)`;
  if (!existsSync(path.join(bin, 'postgres'))) return `no postgres binary in ${bin} (OUTPOST_PG_BIN)`;
  const user = serverUser();
  return typeof user === 'string' ? user : undefined;
}

function run(file: string, args: string[], opts: SpawnOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { ...opts, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${path.basename(file)} exited ${code}: ${stderr}`)),
    );
  });
}

/** Resolves once the server logs that it accepts connections; rejects if it exits first. */
function ready(server: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let log = '';
    const onData = (d: Buffer) => {
      log += d.toString();
      if (log.includes('database system is ready to accept connections')) {
        server.stderr?.off('data', onData);
        // Keep draining the pipe, so a chatty server never blocks on a full one.
        server.stderr?.resume();
        resolve();
      }
    };
    server.stderr?.on('data', onData);
    server.once('exit', (code) => reject(new Error(`postgres exited ${code} before it was ready: ${log}`)));
  });
}

/**
 * Starts a fresh PostgreSQL server; call postgresUnavailable() first. `durable` keeps PostgreSQL's own
 * defaults (fsync, synchronous commit, full page writes), as a production server runs: the bench wants
 * that; tests do not.
 */
export async function startTestPostgres(opts: { durable?: boolean } = {}): Promise<TestPostgres> {
  const bin = binDir();
  const user = serverUser();
  if (bin === undefined || typeof user === 'string') throw new Error(postgresUnavailable());
  const dir = await mkdtemp(path.join(tmpdir(), 'outpost-pg-'));
  await chown(dir, user.uid, user.gid);
  const data = path.join(dir, 'data');
  const asUser: SpawnOptions = { uid: user.uid, gid: user.gid, env: { PATH: process.env.PATH, LANG: 'C' } };
  await run(
    path.join(bin, 'initdb'),
    ['-D', data, '-U', SUPERUSER, '--auth=trust', '--locale=C', '-E', 'UTF8', '--no-sync'],
    asUser,
  );
  const server = spawn(
    path.join(bin, 'postgres'),
    [
      '-D',
      data,
      '-k',
      dir,
      '-c',
      'listen_addresses=',
      // A throwaway cluster: durability buys nothing and costs the tests time.
      ...(opts.durable
        ? []
        : ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']),
      '-c',
      'max_connections=300',
    ],
    { ...asUser, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  // A test process that dies without stopping the server must not leave it running.
  const killOnExit = () => server.kill('SIGKILL');
  process.once('exit', killOnExit);
  try {
    await ready(server);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const url = (name: string) => `postgresql://${SUPERUSER}@/${name}?host=${encodeURIComponent(dir)}`;
  return {
    url,
    async createDatabase(name, template) {
      const admin = new pg.Client({ connectionString: url('postgres') });
      await admin.connect();
      try {
        await admin.query(
          `CREATE DATABASE "${name}"${template === undefined ? '' : ` TEMPLATE "${template}"`}`,
        );
      } finally {
        await admin.end();
      }
      return url(name);
    },
    async stop() {
      process.off('exit', killOnExit);
      // SIGINT: PostgreSQL's fast shutdown (disconnects clients, no wait for them to leave).
      server.kill('SIGINT');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
